package FluentAI::Load;

# A small load generator for scenario suites (outage, reload, failover): forked
# clients on keep-alive connections, one JSON line per request with its
# start/end times, status, error code and what the caller adds.  wrk
# cannot tell which request got which answer; these suites need that.
#
#   my $l = load_start(clients => 4, max_seconds => 30, pause => 0.01,
#                      next  => sub { my ($c, $i, $st) = @_;
#                                     return { kind => 'profile',
#                                              raw => build_request(...) } },
#                      after => sub { my ($c, $q, $rec, $json, $st) = @_ });
#   ...
#   my @recs = load_stop($l);      # sorted by start time
#   note summary(@recs);
#
# $st is the client's own state hash (tokens of a refresh chain...), kept
# across its requests; next() and after() run in the client process.
# next() may mark a request { idempotent => 1 }: it is then retried once
# after a keep-alive close race (do_request), as HTTP clients do.

use strict;
use warnings;

use Exporter 'import';
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(time sleep);
use FluentAI::Test qw(json_encode json_decode server_port);

our @EXPORT = qw(build_request do_request load_start load_stop summary);

sub build_request {
    my ($method, $path, $body, $auth, $port) = @_;
    $port //= server_port();
    my $r = "$method $path HTTP/1.1\r\nHost: 127.0.0.1:$port\r\n";
    $r .= "Authorization: Bearer $auth\r\n" if $auth;
    if (defined $body) {
        $r .= "Content-Type: application/json\r\nContent-Length: "
              . length($body) . "\r\n";
    }
    return $r . "\r\n" . ($body // '');
}

# one request on the client's keep-alive connection ($st->{sock}); returns
# the record and the decoded JSON body.  $retry (an idempotent request): a
# reused connection the server closed before the first byte of an answer
# (the keep-alive close race every HTTP client knows; RFC 9112 9.3.1) is
# retried once on a new connection, and the record notes it in {race}.
sub do_request {
    my ($st, $raw, $timeout, $port, $retry) = @_;
    my ($rec, $j) = _request_once($st, $raw, $timeout, $port);
    if ($retry && $rec->{err} && $rec->{reused} && !$rec->{got}) {
        my ($t0, $race) = ($rec->{t0}, $rec->{err});
        ($rec, $j) = _request_once($st, $raw, $timeout, $port);
        @$rec{qw(t0 race)} = ($t0, $race);
    }
    return ($rec, $j);
}

sub _request_once {
    my ($st, $raw, $timeout, $port) = @_;
    $port //= server_port();
    my $rec = { t0 => time };
    my $reused = $st->{sock} ? 1 : 0;
    unless ($st->{sock}) {
        $st->{sock} = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                            PeerPort => $port,
                                            Proto => 'tcp',
                                            Timeout => $timeout);
        unless ($st->{sock}) {
            $rec->{err} = "connect: $!";
            $rec->{t1} = time;
            return ($rec, undef);
        }
        binmode $st->{sock};
    }
    my $s = $st->{sock};
    my ($off, $buf, $err) = (0, '', undef);
    while ($off < length $raw) {
        my $n = syswrite $s, $raw, length($raw) - $off, $off;
        unless (defined $n && $n > 0) { $err = "write: $!"; last }
        $off += $n;
    }
    my ($status, $body, $close, $j);
    my $sel = IO::Select->new($s);
    my $deadline = time + $timeout;
    while (!$err) {
        my $left = $deadline - time;
        if ($left <= 0 || !$sel->can_read($left)) { $err = 'timeout'; last }
        my $n = sysread $s, $buf, 65536, length $buf;
        if (!defined $n) { $err = "read: $!"; last }
        if ($n == 0) { $err = 'eof'; last }
        my $i = index($buf, "\r\n\r\n");
        next if $i < 0;
        my $head = substr($buf, 0, $i);
        my ($cl) = $head =~ /^Content-Length:\s*(\d+)/mi;
        $cl //= 0;
        next if length($buf) < $i + 4 + $cl;
        ($status) = $head =~ m{^HTTP/1\.[01] (\d{3})};
        $body = substr($buf, $i + 4, $cl);
        $close = $head =~ /^Connection:\s*close/mi ? 1 : 0;
        $rec->{ct} = ($head =~ /^Content-Type:\s*([^\r\n;]+)/mi)[0] // '';
        last;
    }
    if ($err) {
        $rec->{err} = $err;
        $rec->{reused} = $reused;
        $rec->{got} = length $buf;
        close $s;
        delete $st->{sock};
    } else {
        $rec->{st} = $status // 0;
        $j = json_decode($body);
        $j = undef unless ref $j eq 'HASH';
        $rec->{json} = $j ? 1 : 0;
        $rec->{code} = $j->{code} if $j && $j->{code};
        $rec->{uemail} = $j->{user}{email}
            if $j && ref $j->{user} eq 'HASH';
        if ($close) { close $s; delete $st->{sock} }
    }
    $rec->{t1} = time;
    return ($rec, $j);
}

sub load_start {
    my (%o) = @_;
    my $dir = tempdir(CLEANUP => 1);
    my $port = $o{port} // server_port();
    my @pids;
    for my $c (0 .. $o{clients} - 1) {
        my $pid = fork;
        die "fork: $!" unless defined $pid;
        if ($pid == 0) {
            $SIG{PIPE} = 'IGNORE';
            $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP);
            open my $out, '>', "$dir/c$c" or POSIX::_exit(1);
            my $old = select $out; $| = 1; select $old;
            my $st = {};
            my $hard = time + $o{max_seconds};
            my $i = 0;
            while (!-e "$dir/stop" && time < $hard) {
                my $q = $o{next}->($c, $i++, $st);
                my ($rec, $j) = do_request($st, $q->{raw},
                                           $o{timeout} // 10, $port,
                                           $q->{idempotent});
                $rec->{k} = $q->{kind};
                $rec->{email} = $q->{email} if $q->{email};
                $rec->{c} = $c;
                $o{after}->($c, $q, $rec, $j, $st) if $o{after};
                print $out json_encode($rec), "\n";
                sleep $o{pause} if $o{pause};
            }
            close $out;
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    return { dir => $dir, pids => \@pids };
}

sub load_stop {
    my ($l) = @_;
    if (open my $fh, '>', "$l->{dir}/stop") { close $fh }
    waitpid $_, 0 for @{ $l->{pids} };
    my @recs;
    for my $f (glob "$l->{dir}/c*") {
        open my $fh, '<', $f or next;
        while (my $line = <$fh>) {
            my $r = json_decode($line);
            push @recs, $r if $r;
        }
        close $fh;
    }
    return sort { $a->{t0} <=> $b->{t0} } @recs;
}

sub summary {
    my %t;
    for (@_) {
        my $k = $_->{err} ? "transport error ($_->{err}"
                            . ($_->{reused} ? ', reused' : ', new') . ')'
              : $_->{st} . ($_->{code} ? " $_->{code}" : '');
        $t{$k}++;
    }
    return join(', ', map { "$_ x$t{$_}" } sort keys %t) || 'none';
}

1;
