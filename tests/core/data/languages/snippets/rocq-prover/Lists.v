From Coq Require Import List.
Import ListNotations.

Definition head_or (d : nat) (l : list nat) : nat :=
  match l with [] => d | x :: _ => x end.

Theorem head_or_nil : forall d, head_or d [] = d.
Proof. reflexivity. Qed.
