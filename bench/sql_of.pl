#!/usr/bin/perl
# Prints the SQL text of one statement of the module, as the module sends
# it, taken from src/ngx_http_fluentai_sql.c (so the pgbench baselines run
# exactly the module's statement, and follow it when it changes):
#
#   bench/sql_of.pl src/ngx_http_fluentai_sql.c fluentai_profile
#
# It reads the table entry (.name = "name", .text = "..." MACRO "..."),
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

# { .name = "...", .text = "..." MACRO "...", .nparams = ... } (or the
# older positional { "name", "...", nparams, readonly })
$src =~ /\.name\s*=\s*"\Q$name\E"\s*,\s*\.text\s*=(.*?),\s*\.nparams/s
    or $src =~ /\{\s*"\Q$name\E"\s*,(.*?),\s*\d+\s*,\s*\d+\s*\}/s
    or die "$0: statement $name not found in $file\n";
my $body = $1;

my $sql = '';
while ($body =~ /\G\s*(?:"((?:[^"\\]|\\.)*)"|(\w+))/gc) {
    if (defined $1) {
        $sql .= $1;
    } elsif (exists $macro{$2}) {
        $sql .= $macro{$2};
    } else {
        die "$0: unknown macro $2 in $name\n";
    }
}
$body =~ /\G\s*$/gc or die "$0: cannot parse the entry of $name\n";
$sql =~ s/\\"/"/g;
$sql =~ s/\\\\/\\/g;
print "$sql\n";
