# The thread pool that hashes passwords:
# 1. Hashing threads give way to the event loop: a thread of the pool
#    lowers its own priority (nice 10) before its first argon2id job, so on
#    a busy machine the workers' event loops win the CPU (bench/: profile
#    p99 during a login storm).  The event loop thread itself keeps nice 0.
# 2. A client that goes away while its request waits for a hash (its job
#    queued, or running) is noticed at once: the request ends (499) and
#    leaves stub_status "Writing" without waiting for the job; a queued job
#    is skipped, a running one finishes and its result is dropped (no user
#    is created).

use strict;
use warnings;

use IO::Select;
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(time);
use FluentAI::Test qw(:DEFAULT wait_until);
use Test::Nginx::Util ();

my $VG = $Test::Nginx::Util::UseValgrind ? 1 : 0;
my $F  = Test::Nginx::Util::timeout_factor();

start_nginx(main_config => fluentai_main_config(threads => 2),
            http_config => fluentai_http_config(),
            config      => fluentai_locations())
    or BAIL_OUT('nginx did not start');

my $email = unique_email('nice');
my $r = api(POST => '/auth/register',
            json => { name => 'Nice', email => $email,
                      password => 'nice-password-1' });
is $r->{status}, 200, 'register (one hash on the pool) works';

# nice is field 19 of /proc/<pid>/task/<tid>/stat (after the ")" of comm)
sub nice_of {
    my ($pid, $tid) = @_;
    open my $fh, '<', "/proc/$pid/task/$tid/stat" or return undef;
    my $stat = <$fh>;
    my ($rest) = $stat =~ /\)\s(.*)\z/s or return undef;
    return (split ' ', $rest)[16];
}

# the nginx processes: the master's children, or the single valgrind one
my $pidfile = Test::Nginx::Util::servroot() . '/logs/nginx.pid';
open my $fh, '<', $pidfile or die "$pidfile: $!\n";
chomp(my $master = <$fh>);
my @procs = ($master);
if (open my $c, '<', "/proc/$master/task/$master/children") {
    push @procs, split ' ', scalar <$c> // '';
}

my (%nice, $main0);
for my $pid (@procs) {
    opendir my $d, "/proc/$pid/task" or next;
    for my $tid (grep { /^\d+$/ } readdir $d) {
        my $n = nice_of($pid, $tid);
        next unless defined $n;
        $nice{"$pid/$tid"} = $n;
        $main0 = 1 if $tid == $pid && $n == 0;
    }
}

ok scalar(grep { $_ == 10 } values %nice) >= 1,
    'a thread that hashed runs at nice 10'
    or diag explain \%nice;
ok $main0, 'the event loop threads keep nice 0' or diag explain \%nice;

stop_nginx();

# ------------------------- 2. a client that leaves while its hash waits

# one thread, one queue slot, a hash that takes a while (well over the
# time it takes to see a request leave "Writing")
start_nginx(main_config => fluentai_main_config(threads => 1, max_queue => 1),
            http_config => fluentai_http_config(
                password_hash => $VG ? 'm=16384 t=2 p=1' : 'm=131072 t=4 p=1'),
            config      => fluentai_locations()
                           . "    location = /status { stub_status; }\n")
    or BAIL_OUT('nginx did not start');

sub writing {
    my $r = api(GET => '/status');
    return $r->{body} =~ /Writing:\s*(\d+)/ ? $1 : -1;
}

sub users_with { psql('SELECT count(*) FROM users WHERE email = $1', $_[0]) }

# a registration over a raw socket, left in flight
sub register_send {
    my ($email) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => server_port(),
                                  Proto => 'tcp', Timeout => 5)
        or die "connect: $!\n";
    binmode $s;
    my $body = json_encode({ name => 'Gone', email => $email,
                             password => 'gone-password-1' });
    my $req = "POST /auth/register HTTP/1.1\r\nHost: localhost\r\n"
              . "Content-Type: application/json\r\n"
              . 'Content-Length: ' . length($body) . "\r\n"
              . "Connection: close\r\n\r\n$body";
    syswrite($s, $req) == length $req or die "send: $!\n";
    return $s;
}

# the status of the answer on $s, or 0 after $secs
sub status_of {
    my ($s, $secs) = @_;
    my $sel = IO::Select->new($s);
    my $deadline = time + $secs;
    my $buf = '';
    while ((my $left = $deadline - time) > 0) {
        last unless $sel->can_read($left);
        my $n = sysread($s, $buf, 65536, length $buf);
        last unless $n;
    }
    close $s;
    return $buf =~ m{\AHTTP/1\.1 (\d{3})} ? $1 : 0;
}

sub answered { IO::Select->new($_[0])->can_read(0) ? 1 : 0 }

{
    my $mark = error_log_mark();
    my @email = map { unique_email("gone$_") } 0 .. 2;

    # A hashes; B's job waits in the thread pool's queue; B's client goes
    my $sa = register_send($email[0]);
    ok wait_until(sub { writing() >= 2 }, 10 * $F, 0.01),
        'gone: request A is hashing';
    my $sb = register_send($email[1]);
    ok wait_until(sub { writing() >= 3 }, 10 * $F, 0.01),
        'gone: request B waits for the thread';
    close $sb;
    my $t = time;
    ok wait_until(sub { writing() == 2 }, 2 * $F, 0.01),
        'gone: B\'s client closed while its job was queued: B leaves '
        . '"Writing" at once';
    note sprintf 'gone: B left after %.0f ms', 1000 * (time - $t);
    ok !answered($sa), 'gone: ... while A was still hashing';

    # A's client goes while its job runs
    close $sa;
    $t = time;
    ok wait_until(sub { writing() == 1 }, 2 * $F, 0.01),
        'gone: A\'s client closed while its job ran: A leaves "Writing" '
        . 'at once';
    note sprintf 'gone: A left after %.0f ms', 1000 * (time - $t);

    # the thread finishes A's job (dropped) and skips B's: C is served
    my $sc;
    ok wait_until(sub {
            my $r = api(POST => '/auth/register',
                        json => { name => 'After', email => $email[2],
                                  password => 'gone-password-1' });
            $r->{status} == 200
        }, 60 * $F, 0.1),
        'gone: a registration after them succeeds';
    is users_with($email[0]), 0, 'gone: A (client gone) created no user';
    is users_with($email[1]), 0, 'gone: B (client gone) created no user';
    is users_with($email[2]), 1, 'gone: the registration after them did';

    my $log = error_log_since($mark);
    my $closed = () = $log =~ /client prematurely closed connection/g;
    is $closed, 2, 'gone: both closes are logged (info)';
    my $access = do {
        local $/;
        open my $fh, '<', Test::Nginx::Util::servroot() . '/logs/access.log'
            or die "access.log: $!\n";
        <$fh>;
    };
    my $n499 = () = $access =~ m{"POST /auth/register HTTP/1\.1" 499 }g;
    is $n499, 2, 'gone: both are 499 in the access log';
}

stop_nginx();
done_testing();
