use v6;

sub MAIN(Str $file) {
    my %count;
    for $file.IO.words -> $word {
        %count{$word.lc}++;
    }
    for %count.sort(-*.value).head(10) -> $pair {
        say "{$pair.key}: {$pair.value}";
    }
}
