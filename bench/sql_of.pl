#!/usr/bin/perl
# Prints the SQL text of one statement of the module, as the module sends
# it, taken from src/ngx_http_fluentai_sql.c (so the pgbench baselines run
# exactly the module's statement, and follow it when it changes):
#
#   bench/sql_of.pl src/ngx_http_fluentai_sql.c fluentai_profile
#
# It reads the table entry (designated initialisers: .name, .text),
# expands the #define'd string macros of the file and joins the literals.
use strict;
use warnings;

my ($file, $name) = @ARGV;
die "usage: $0 FILE STATEMENT\n" unless defined $name;
open my $fh, '<', $file or die "$file: $!\n";
my $src = do { local $/; <$fh> };
close $fh;

$src =~ s{/\*.*?\*/}{}gs;

# string macros:  #define NAME  "..." \  "..."
my %macro;
while ($src =~ /^#define\s+(\w+)[ \t]*(?:\\\n)?\s*((?:"(?:[^"\\]|\\.)*"\s*(?:\\\n\s*)?)+)$/mg) {
    my ($m, $body) = ($1, $2);
    $macro{$m} = join '', $body =~ /"((?:[^"\\]|\\.)*)"/g;
}

# one-argument macros:  #define NAME(arg)  "..." arg "..." \  "..."
# (used as NAME("$3"): the argument is a string literal)
my %fmacro;
while ($src =~ /^#define\s+(\w+)\((\w+)\)[ \t]*(?:\\\n)?\s*((?:(?:"(?:[^"\\]|\\.)*"|\w+)\s*(?:\\\n\s*)?)+)$/mg) {
    my ($m, $arg, $body) = ($1, $2, $3);
    my @parts;
    while ($body =~ /"((?:[^"\\]|\\.)*)"|(\w+)/g) {
        push @parts, defined $1 ? [s => $1] : [a => $2];
    }
    $fmacro{$m} = [$arg, \@parts];
}

# { .name = "name", .text = "..." MACRO "...", .nparams = N, ... }, or the
# older { "name", "...", nparams, ro }
my $body;
if ($src =~ /\.name\s*=\s*"\Q$name\E"\s*,\s*\.text\s*=(.*?),\s*\.nparams\b/s) {
    $body = $1;
} elsif ($src =~ /\{\s*"\Q$name\E"\s*,(.*?),\s*\d+\s*,\s*\d+\s*\}/s) {
    $body = $1;
} else {
    die "$0: statement $name not found in $file\n";
}

my $sql = '';
while ($body =~ /\G\s*(?:"((?:[^"\\]|\\.)*)"|(\w+)\s*\(\s*"((?:[^"\\]|\\.)*)"\s*\)|(\w+))/gc) {
    if (defined $1) {
        $sql .= $1;
    } elsif (defined $2) {
        my $f = $fmacro{$2} or die "$0: unknown macro $2 in $name\n";
        my ($arg, $value) = ($f->[0], $3);
        $sql .= join '', map { $_->[0] eq 's' ? $_->[1]
                               : $_->[1] eq $arg ? $value
                               : die "$0: unknown name $_->[1] in $2\n" }
                             @{ $f->[1] };
    } elsif (exists $macro{$4}) {
        $sql .= $macro{$4};
    } else {
        die "$0: unknown macro $4 in $name\n";
    }
}
$body =~ /\G\s*$/gc or die "$0: cannot parse the entry of $name\n";
$sql =~ s/\\"/"/g;
$sql =~ s/\\\\/\\/g;
print "$sql\n";
