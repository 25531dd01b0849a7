:- module(family, [grandparent/2]).

parent(ann, bob).
parent(bob, cid).

grandparent(X, Z) :-
    parent(X, Y),
    parent(Y, Z).
