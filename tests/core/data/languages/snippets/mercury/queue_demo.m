:- module queue_demo.
:- interface.
:- import_module io.
:- pred main(io::di, io::uo) is det.
:- implementation.
:- import_module list, int.

main(!IO) :-
    Sum = list.foldl(int.plus, [1, 2, 3], 0),
    io.write_int(Sum, !IO),
    io.nl(!IO).
