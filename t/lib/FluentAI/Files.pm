package FluentAI::Files;

# Files a test configuration names (JWT secrets, blocklists, mail
# templates, SMTP credentials), written at load time into a private
# temporary directory that nginx's workers can read and that is removed
# when the test ends:
#
#   my $dir = conf_files('fluentai-config',
#                        'exact32.key' => 'k' x 32,
#                        'list.txt'    => "Password\n");
#   # "$dir/exact32.key", "$dir/list.txt"; write_conf_file($dir, $n, $b)
#
# Contents are bytes, written as they are.

use strict;
use warnings;

use Exporter 'import';
use File::Temp ();

our @EXPORT = qw(conf_files write_conf_file);

sub write_conf_file {
    my ($dir, $name, $bytes) = @_;
    open my $fh, '>:raw', "$dir/$name" or die "$dir/$name: $!";
    print $fh $bytes;
    close $fh or die "$dir/$name: $!";
    chmod 0644, "$dir/$name";
}

sub conf_files {
    my ($prefix, @files) = @_;
    my $dir = File::Temp::tempdir("$prefix-XXXXXX", TMPDIR => 1,
                                  CLEANUP => 1);
    chmod 0755, $dir;
    while (my ($name, $bytes) = splice @files, 0, 2) {
        write_conf_file($dir, $name, $bytes);
    }
    return $dir;
}

1;
