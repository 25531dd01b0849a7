use v6;
use Test;
use lib 'lib';
use Greeter;

plan 2;

my $g = Greeter.new(name => 'World');
is $g.greet, 'Hello, World!', 'greets by name';
ok $g.name eq 'World', 'keeps the name';

done-testing;
