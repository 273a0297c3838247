package FluentAI::Pg;

# Stop and start the PostgreSQL cluster that t/run-suites started, for
# suites that take the database away (t/pool.t, t/outage.t):
#
#   use FluentAI::Pg qw(pg_running pg_stop pg_start pg_log);
#   ok pg_stop(), 'PostgreSQL stopped';     # pg_ctl stop -m fast
#   ...
#   ok pg_start(), 'PostgreSQL started';    # same options, port, log
#
# A suite that dies with the cluster stopped gets it started again when it
# exits (END, in the process that loaded this module).

use strict;
use warnings;

use Exporter 'import';
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use POSIX ();
use Test::More ();

our @EXPORT = qw(pg_running pg_stop pg_start pg_restart);
our @EXPORT_OK = qw(pg_log);

my $Owner = $$;
my $Stopped = 0;

# set by t/run-suites; a suite checks them before it uses these helpers
my @PgCtl = split ' ', $ENV{TEST_NGINX_PG_CTL} // '';
my $PgData = $ENV{TEST_NGINX_PG_PGDATA} // '';

# the server log t/run-suites writes
sub pg_log { dirname($PgData) . '/pg.log' }

sub shq { my $s = shift; $s =~ s/'/'\\''/g; return "'$s'" }

# the options the cluster runs with: from postmaster.opts (written by the
# postmaster at start), else rebuilt from the TEST_NGINX_PG_* variables
sub options {
    my @keep;
    if (open my $fh, '<', "$PgData/postmaster.opts") {
        local $/;
        my $line = <$fh> // '';
        close $fh;
        my @tok = $line =~ /"((?:[^"\\]|\\.)*)"/g;    # not the binary
        while (@tok) {
            my $t = shift @tok;
            if ($t eq '-D') { shift @tok; next }
            push @keep, $t;
        }
    }
    @keep = ('-c', 'listen_addresses=127.0.0.1',
             '-c', "port=$ENV{TEST_NGINX_PG_PORT}",
             '-c', "unix_socket_directories=$ENV{TEST_NGINX_PG_HOST}",
             '-c', 'fsync=off', '-c', 'max_connections=200') unless @keep;
    return join ' ', map { shq($_) } @keep;
}

# run pg_ctl with output to a file (never a pipe: "pg_ctl start" leaves a
# postmaster behind that would hold it open) -> (exit status, output)
sub pg_ctl {
    my (@args) = @_;
    die "TEST_NGINX_PG_CTL is not set (run via t/run-suites)\n" unless @PgCtl;
    my $dir = tempdir(CLEANUP => 1);
    my $out = "$dir/out";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $out or POSIX::_exit(126);
        open STDERR, '>&', \*STDOUT or POSIX::_exit(126);
        exec(@PgCtl, @args) or POSIX::_exit(127);
    }
    waitpid($pid, 0);
    my $st = $? >> 8;
    my $text = '';
    if (open my $fh, '<', $out) { local $/; $text = <$fh> // ''; }
    return ($st, $text);
}

sub pg_running { return (pg_ctl('status'))[0] == 0 }

# pg_stop('immediate'): no backend finishes what it was doing (a fast
# stop ends a lock holder first, and a statement waiting for that lock
# may still complete before its own backend ends)
sub pg_stop {
    my ($mode) = @_;
    $Stopped = 1;
    my ($st, $out) = pg_ctl('stop', '-m', $mode // 'fast');
    Test::More::diag("pg_ctl stop: $out") if $st;
    return $st == 0;
}

# the same options, port, socket directory and log as before
sub pg_start {
    my $opts = options();
    my ($st, $out) = pg_ctl('-t', '60', '-l', pg_log(), '-o', $opts,
                            'start');
    Test::More::diag("pg_ctl start: $out") if $st;
    $Stopped = 0 if $st == 0;
    return $st == 0;
}

sub pg_restart {
    pg_stop();
    return pg_start();
}

END {
    return unless $$ == $Owner && $Stopped;
    my $rc = $?;
    unless (pg_running()) {
        Test::More::diag('starting PostgreSQL again');
        pg_start() or Test::More::diag('could not start PostgreSQL again!');
    }
    $? = $rc;
}

1;
