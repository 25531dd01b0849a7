:- module tree.
:- interface.
:- type tree(T) ---> leaf ; node(tree(T), T, tree(T)).
:- func size(tree(T)) = int.
:- implementation.
:- import_module int.
size(leaf) = 0.
size(node(L, _, R)) = size(L) + 1 + size(R).
