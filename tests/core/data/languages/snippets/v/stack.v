module stack

pub struct Stack[T] {
mut:
	items []T
}

pub fn (mut s Stack[T]) push(item T) {
	s.items << item
}
