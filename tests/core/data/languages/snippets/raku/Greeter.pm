use v6;

unit class Greeter;

has Str $.name is required;

method greet(--> Str) {
    "Hello, $!name!"
}
