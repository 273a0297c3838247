package FluentAI::Hold;

# Holding requests in flight on purpose, for suites that need them to
# wait together (t/coalesce.t):
#
#   locker_start() / locker_stop(): a psql session (application_name
#   fluentai-test-locker) holds LOCK TABLE users IN ACCESS EXCLUSIVE MODE
#   (or one row's FOR UPDATE lock: then row_waiters() counts) until it is terminated, so every module statement that reads users
#   waits; lock_waiters() counts the backends waiting for it (pg_locks:
#   works through PgBouncer too), lock_cancel() cancels their statements.
#
#   hold_send($path, $token) / hold_read($sock, $secs): a GET on its own
#   connection (Connection: close), its answer read later.
#
# Ordering never relies on sleeps: callers wait for lock_waiters() or the
# module's metrics.

use strict;
use warnings;

use Exporter 'import';
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(time);
use FluentAI::Test qw(psql json_decode server_port wait_until);

our @EXPORT = qw(locker_start locker_stop lock_waiters row_waiters lock_cancel
                 hold_send hold_read);

my $LockerPid;
my $Owner = $$;

# locker_start($row): only the row of users whose id is $row, so that
# only writes to it wait (statements are prepared as usual)
sub locker_start {
    my ($row) = @_;
    my $conninfo = $ENV{TEST_NGINX_PG_CONNINFO};
    my $lock = defined $row
        ? "SELECT 1 FROM users WHERE id = '$row' FOR UPDATE"
        : 'LOCK TABLE users IN ACCESS EXCLUSIVE MODE';
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        exec('psql', '-X', '-q', '-d',
             "$conninfo application_name=fluentai-test-locker", '-c',
             "BEGIN; $lock; "
             . 'SELECT pg_sleep(600); COMMIT;')
            or POSIX::_exit(127);
    }
    $LockerPid = $pid;
    wait_until(sub {
        psql(q{SELECT count(*) FROM pg_stat_activity
                WHERE application_name = 'fluentai-test-locker'
                  AND wait_event = 'PgSleep'}) > 0
    }, 20, 0.05) or die "the locker did not get its lock\n";
    return 1;
}

# the locker's backend ends (when the server is down: its psql exits)
sub locker_stop {
    return unless $LockerPid;
    eval {
        psql(q{SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                WHERE application_name = 'fluentai-test-locker'});
    };
    unless (wait_until(sub { waitpid($LockerPid, POSIX::WNOHANG()) != 0 },
                       20))
    {
        kill 'KILL', $LockerPid;
        waitpid($LockerPid, 0);
    }
    $LockerPid = undef;
    eval {
        wait_until(sub {
            psql(q{SELECT count(*) FROM pg_stat_activity
                    WHERE application_name = 'fluentai-test-locker'}) == 0
        }, 10);
    };
}

# requests' statements only: autovacuum and the mail sender may wait for
# the lock too.  The mail sender's connection says application_name
# fluentai-mail, but through PgBouncer (transaction mode) a server
# connection keeps the name of whichever client used it last, so there
# its statements are told by their table (no PREPAREs there).
my $NOT_MAIL = $ENV{TEST_NGINX_PGBOUNCER}
    ? q{a.query NOT LIKE '%fluentai_mail_outbox%'}
    : q{a.application_name <> 'fluentai-mail'};
my $WAITERS = qq{SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a
                  USING (pid)
                 WHERE l.relation = 'users'::regclass AND NOT l.granted
                   AND a.backend_type = 'client backend' AND $NOT_MAIL};

sub lock_waiters {
    return psql("SELECT count(*) FROM ($WAITERS) w");
}

# requests' statements waiting for any lock (a row's too)
sub row_waiters {
    return psql(qq{SELECT count(*) FROM pg_stat_activity a
                    WHERE a.wait_event_type = 'Lock'
                      AND a.backend_type = 'client backend' AND $NOT_MAIL});
}

# cancels the statements waiting for the lock (SQLSTATE 57014 for them)
sub lock_cancel {
    return psql("SELECT count(pg_cancel_backend(pid)) FROM ($WAITERS) w");
}

# GET path, or method with a JSON body
sub hold_send {
    my ($path, $token, $method, $body) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => server_port(),
                                  Proto => 'tcp', Timeout => 5)
        or die "connect: $!\n";
    binmode $s;
    my $req = ($method // 'GET') . " $path HTTP/1.1\r\nHost: localhost\r\n"
              . "Authorization: Bearer $token\r\nConnection: close\r\n"
              . (defined $body
                 ? "Content-Type: application/json\r\n"
                   . 'Content-Length: ' . length($body) . "\r\n\r\n$body"
                 : "\r\n");
    syswrite($s, $req) == length $req or die "send: $!\n";
    return $s;
}

# { status, content_type, body (chunks joined), json, headers => {} }, or
# with error => 'timeout'
sub hold_read {
    my ($s, $secs) = @_;
    my $sel = IO::Select->new($s);
    my $deadline = time + $secs;
    my ($buf, $res) = ('', {});
    while (1) {
        my $left = $deadline - time;
        if ($left <= 0 || !$sel->can_read($left)) {
            $res->{error} = 'timeout';
            last;
        }
        my $n = sysread($s, $buf, 65536, length $buf);
        last if !$n;
    }
    close $s;
    if ($buf =~ m{^HTTP/1\.\d (\d+)[^\r\n]*\r\n(.*?)\r\n\r\n(.*)\z}s) {
        my ($h, $body) = ($2, $3);
        $res->{status} = $1;
        ($res->{content_type}) = $h =~ /^Content-Type:\s*([^\r\n]*)/mi;
        $body = unchunk($body) if $h =~ /^Transfer-Encoding:\s*chunked/mi;
        $res->{body} = $body;
        $res->{json} = json_decode($body);
    }
    $res->{headers} = {};
    return $res;
}

sub unchunk {
    my ($body) = @_;
    my $d = '';
    while ($body =~ s/^([0-9a-fA-F]+)[^\r\n]*\r\n//) {
        my $len = hex $1;
        last if !$len;
        $d .= substr($body, 0, $len, '');
        $body =~ s/^\r\n//;
    }
    return $d;
}

END {
    return unless $$ == $Owner && $LockerPid;
    my $rc = $?;
    eval { locker_stop() };
    $? = $rc;
}

1;
