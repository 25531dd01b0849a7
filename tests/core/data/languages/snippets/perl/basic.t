use strict;
use warnings;
use Test::More tests => 2;

use_ok('My::Counter');
my $c = My::Counter->new;
is($c->value, 0, 'starts at zero');
