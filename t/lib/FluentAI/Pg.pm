package FluentAI::Pg;

# The suite's PostgreSQL cluster (started by t/run-suites) stopped and
# started again by a test, with the options it runs with.
#
#   use FluentAI::Pg;
#   ok pg_stop();  ...  ok pg_start();
#
# A test that loaded this module starts the cluster again when it ends,
# whatever happened (the other suites of the run share it).

use strict;
use warnings;

use Exporter 'import';
use File::Basename qw(dirname);

our @EXPORT = qw(pg_running pg_stop pg_start pg_restart ensure_pg_running);

my $MAIN_PID = $$;

sub shq { my $s = shift; $s =~ s/'/'\\''/g; return "'$s'" }

# the options the cluster runs with: from postmaster.opts (written by the
# postmaster at start), else rebuilt from the TEST_NGINX_PG_* variables
sub _opts {
    my $pgdata = $ENV{TEST_NGINX_PG_PGDATA} // '';
    my $opts = '';
    if (open my $fh, '<', "$pgdata/postmaster.opts") {
        local $/;
        my $line = <$fh>;
        close $fh;
        my @tok = $line =~ /"((?:[^"\\]|\\.)*)"/g;
        my @keep;
        while (@tok) {
            my $t = shift @tok;
            if ($t eq '-D') { shift @tok; next }
            push @keep, $t;
        }
        $opts = join ' ', map { shq($_) } @keep;
    }
    return $opts || join ' ', map { shq($_) }
        '-c', 'listen_addresses=127.0.0.1',
        '-c', "port=" . ($ENV{TEST_NGINX_PG_PORT} // ''),
        '-c', "unix_socket_directories=" . ($ENV{TEST_NGINX_PG_HOST} // ''),
        '-c', 'fsync=off', '-c', 'max_connections=200';
}

my $PG_OPTS = _opts();
my $PG_LOG = dirname($ENV{TEST_NGINX_PG_PGDATA} // '.') . '/pg.log';

sub pg_running {
    return system("$ENV{TEST_NGINX_PG_CTL} status >/dev/null 2>&1") == 0;
}

sub pg_stop {
    return system("$ENV{TEST_NGINX_PG_CTL} -m fast stop >/dev/null 2>&1")
           == 0;
}

sub pg_start {
    return system("$ENV{TEST_NGINX_PG_CTL} -t 60 -l " . shq($PG_LOG)
                  . ' -o ' . shq($PG_OPTS) . ' start >/dev/null 2>&1') == 0;
}

sub pg_restart {
    pg_stop();
    return pg_start();
}

sub ensure_pg_running {
    return unless $$ == $MAIN_PID && $ENV{TEST_NGINX_PG_CTL};
    return if pg_running();
    pg_start() or warn "# $0: could not start PostgreSQL again!\n";
}

END { ensure_pg_running() }

1;
