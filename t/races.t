#!/usr/bin/perl
# Races through the real server (scenario style): N requests that arrive
# at the same moment, then the database's end state.
#
#   t/run-suites t/races.t
#
# Simultaneity: every racer forks, connects, sends its whole request but
# the last byte of the body (nginx has parsed the header and the module
# waits in ngx_http_read_client_request_body), then waits on a shared
# pipe; the parent closes the pipe's write end and every racer sends its
# last byte at once.  No sleeps decide the order.
#
#  1. 50 registrations of one email (case and white-space variants of it):
#     exactly one 200, 49 x 409 email_exists, one row in users.
#  2. 20 refreshes of one refresh token: exactly one 200, 19 x 401
#     refresh_token_reused; the database holds exactly one successor of the
#     token; reuse revoked the session, so the winner's new tokens are dead.
#  3. logout and refresh of one session at once (several rounds, bearer and
#     body form of logout): whatever the order, the session ends revoked,
#     and if the refresh won, its new access and refresh tokens are dead.
#  4. change-password from two sessions of one user at once (several
#     rounds): exactly one 200 (the other: 401 invalid_token or
#     current_password_incorrect, as the README documents); afterwards
#     exactly one of the two new passwords logs in (the winner's), the old
#     one does not; the winner's session works, the loser's is revoked with
#     revoke_reason 'password_changed'.

use strict;
use warnings;

use Test::More;
use FluentAI::Test qw(:DEFAULT bearer claims);
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use MIME::Base64 qw(decode_base64url);
use POSIX ();
use Time::HiRes qw(time);

my $TF = Test::Nginx::Util::timeout_factor();
my $VALGRIND = $Test::Nginx::Util::UseValgrind;

# ------------------------------------------------------------- raw HTTP

sub raw_request {
    my ($method, $path, %a) = @_;
    my $body = exists $a{json} ? json_encode($a{json}) : $a{body};
    my %hdr = %{ $a{headers} // {} };
    my @h = ('Host: 127.0.0.1:' . server_port(), 'Connection: close');
    push @h, "$_: $hdr{$_}" for sort keys %hdr;
    if (defined $body) {
        push @h, 'Content-Type: application/json'
            unless grep { lc $_ eq 'content-type' } keys %hdr;
        push @h, 'Content-Length: ' . length $body;
    }
    return "$method $path HTTP/1.1\r\n" . join('', map { "$_\r\n" } @h)
           . "\r\n" . ($body // '');
}

sub parse_response {
    my ($buf) = @_;
    my $i = index($buf, "\r\n\r\n");
    return { status => 0, error => 'no complete response header',
             raw => $buf } if $i < 0;
    my @lines = split /\r\n/, substr($buf, 0, $i);
    my ($status) = (shift @lines) =~ m{^HTTP/1\.[01] (\d{3})};
    my %h;
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*?)\s*$/ or next;
        $h{lc $k} = $v;
    }
    my $body = substr($buf, $i + 4);
    $body = substr($body, 0, $h{'content-length'})
        if defined $h{'content-length'};
    return { status => $status // 0, headers => \%h, body => $body,
             json => json_decode($body) };
}

# race(@raw_requests): all sent at the same moment (see the header);
# returns the parsed responses in the order of the requests.
sub race {
    my (@reqs) = @_;
    my $dir = tempdir(CLEANUP => 1);
    pipe(my $go_r, my $go_w) or die "pipe: $!";
    pipe(my $ready_r, my $ready_w) or die "pipe: $!";
    my @pids;
    for my $i (0 .. $#reqs) {
        my $pid = fork;
        die "fork: $!" unless defined $pid;
        if ($pid == 0) {
            close $go_w;
            close $ready_r;
            $SIG{PIPE} = 'IGNORE';
            my $out = '';
            my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                          PeerPort => server_port(),
                                          Proto => 'tcp',
                                          Timeout => 10 * $TF);
            my $raw = $reqs[$i];
            if ($s) {
                binmode $s;
                _write_all($s, substr($raw, 0, -1));
            }
            syswrite $ready_w, 'r';
            sysread $go_r, my $x, 1;          # EOF: go
            if ($s) {
                _write_all($s, substr($raw, -1));
                my $sel = IO::Select->new($s);
                my $deadline = time + 60 * $TF;
                while (time < $deadline && $sel->can_read($deadline - time)) {
                    my $n = sysread $s, $out, 65536, length $out;
                    last unless $n;
                }
                close $s;
            }
            if (open my $fh, '>', "$dir/$i") {
                binmode $fh;
                print $fh $out;
                close $fh;
            }
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    close $ready_w;
    close $go_r;
    my $got = 0;
    while ($got < @reqs) {
        my $n = sysread $ready_r, my $b, 4096;
        last unless $n;
        $got += $n;
    }
    close $go_w;                               # go
    waitpid $_, 0 for @pids;
    close $ready_r;
    my @res;
    for my $i (0 .. $#reqs) {
        my $buf = '';
        if (open my $fh, '<', "$dir/$i") {
            binmode $fh;
            local $/;
            $buf = <$fh> // '';
            close $fh;
        }
        push @res, parse_response($buf);
    }
    return @res;
}

sub _write_all {
    my ($s, $data) = @_;
    my $off = 0;
    while ($off < length $data) {
        my $n = syswrite $s, $data, length($data) - $off, $off;
        return 0 unless defined $n && $n > 0;
        $off += $n;
    }
    return 1;
}

# ------------------------------------------------------------- helpers



sub tally {
    my %t;
    for my $r (@_) {
        my $k = $r->{status} . ' ' . ($r->{json} && ref $r->{json} eq 'HASH'
                                      ? $r->{json}{code} // '-' : '-');
        $t{$k}++;
    }
    return join ', ', map { "$_ x$t{$_}" } sort keys %t;
}

sub count_where {
    my ($list, $status, $code) = @_;
    return scalar grep {
        $_->{status} == $status
        && (!defined $code
            || (ref $_->{json} eq 'HASH' && ($_->{json}{code} // '') eq $code))
    } @$list;
}

sub register {
    my ($email, $password) = @_;
    my $r = api(POST => '/auth/register',
                json => { name => 'Racer', email => $email,
                          password => $password });
    is $r->{status}, 200, "setup: register $email";
    return $r->{json} // {};
}

sub login {
    my ($email, $password) = @_;
    return api(POST => '/auth/login',
               json => { email => $email, password => $password });
}

# ------------------------------------------------------------- server

# the rotation without a reuse interval (with one: t/reuse.t)
start_nginx(main_config => fluentai_main_config(threads => 4),
            http_config => fluentai_http_config(
                extra => "    fluentai_refresh_reuse_interval 0;\n"),
            config      => fluentai_locations())
    or BAIL_OUT('nginx did not start');

# --------------------------------------- 1. 50 registrations of one email

{
    my $N = 50;
    my $email = unique_email('race-reg');
    my ($local, $domain) = split /\@/, $email;
    my @variants = ($email, uc($email), "  $email ", ucfirst($local) . "\@$domain",
                    "$local\@" . uc($domain));
    my @reqs = map {
        raw_request(POST => '/auth/register',
                    json => { name => "Racer $_",
                              email => $variants[$_ % @variants],
                              password => "race password $_" })
    } 0 .. $N - 1;
    my @res = race(@reqs);
    note "register x$N: " . tally(@res);
    is count_where(\@res, 200), 1, "$N concurrent registrations: one 200";
    is count_where(\@res, 409, 'email_exists'), $N - 1,
        "$N concurrent registrations: the other " . ($N - 1)
        . " are 409 email_exists";
    is scalar(grep { $_->{status} >= 500 || $_->{status} == 0 } @res), 0,
        'no 5xx and no missing answer';
    is psql('SELECT count(*) FROM users WHERE lower(email) = $1', $email), 1,
        'exactly one user row for the email';
    my ($win) = grep { $_->{status} == 200 } @res;
    my $uid = $win && $win->{json} ? $win->{json}{user}{id} // '' : '';
    is psql('SELECT count(*) FROM sessions WHERE user_id IN '
            . '(SELECT id FROM users WHERE lower(email) = $1)', $email), 1,
        'one session, the winner\'s';
    is psql('SELECT id FROM users WHERE lower(email) = $1', $email), $uid,
        'the stored user is the one the 200 returned';
}

# --------------------------------------- 2. 20 refreshes of one token

{
    my $N = 20;
    my $email = unique_email('race-refresh');
    my $j = register($email, 'refresh race pw');
    my $token = $j->{refresh_token} // '';
    my $sid = claims($j->{access_token})->{sid} // '';
    my @res = race(map {
        raw_request(POST => '/auth/refresh',
                    json => { refresh_token => $token })
    } 1 .. $N);
    note "refresh x$N: " . tally(@res);
    is count_where(\@res, 200), 1, "$N concurrent refreshes: exactly one 200";
    is count_where(\@res, 401, 'refresh_token_reused'), $N - 1,
        'the other ' . ($N - 1) . ' are 401 refresh_token_reused';
    is psql('SELECT count(*) FROM refresh_tokens WHERE session_id = $1', $sid),
        2, 'the session holds the old token and exactly one successor';
    is psql('SELECT count(*) FROM refresh_tokens WHERE session_id = $1 '
            . 'AND used_at IS NULL', $sid), 1,
        'exactly one unused (successor) token';
    is psql(q{SELECT count(*) FROM refresh_tokens WHERE hash = }
            . q{sha256(convert_to($1, 'UTF8')) AND used_at IS NOT NULL},
            $token), 1, 'the presented token is marked used';
    my ($win) = grep { $_->{status} == 200 } @res;
    my $new = $win && $win->{json} ? $win->{json}{refresh_token} // '' : '';
    my $new_access = $win && $win->{json} ? $win->{json}{access_token} // ''
                                          : '';
    is psql(q{SELECT count(*) FROM refresh_tokens WHERE hash = }
            . q{sha256(convert_to($1, 'UTF8')) AND session_id = $2}, $new,
            $sid), 1, 'the successor in the database is the token the 200 '
        . 'returned';
    is psql('SELECT revoke_reason FROM sessions WHERE id = $1', $sid),
        'refresh_token_reused', 'reuse revoked the session';
    my $r = api(POST => '/auth/refresh', json => { refresh_token => $new });
    is $r->{status}, 401, "the winner's new refresh token is dead";
    $r = api(GET => '/auth/profile', headers => bearer($new_access));
    is "$r->{status} " . ($r->{json}{code} // ''), '401 invalid_token',
        "the winner's new access token is dead";
}

# --------------------------------------- 3. logout vs refresh

{
    my $ROUNDS = $VALGRIND ? 4 : 8;
    my $email = unique_email('race-logout');
    my $pw = 'logout race pw';
    register($email, $pw);
    my %won = (refresh => 0, logout => 0);
    for my $round (1 .. $ROUNDS) {
        my $form = $round % 2 ? 'bearer' : 'body';
        my $l = login($email, $pw);
        my $access = $l->{json}{access_token} // '';
        my $refresh = $l->{json}{refresh_token} // '';
        my $sid = claims($access)->{sid} // '';
        my $logout = $form eq 'bearer'
            ? raw_request(POST => '/auth/logout', headers => bearer($access),
                          json => {})
            : raw_request(POST => '/auth/logout',
                          json => { refresh_token => $refresh });
        # the order of the two in the list alternates too
        my @reqs = (raw_request(POST => '/auth/refresh',
                                json => { refresh_token => $refresh }),
                    $logout);
        @reqs = reverse @reqs if $round % 4 >= 2;
        my @res = race(@reqs);
        @res = reverse @res if $round % 4 >= 2;
        my ($rf, $lo) = @res;
        my $tag = "round $round (logout by $form)";
        is $lo->{status}, 200, "$tag: logout 200";
        ok $rf->{status} == 200
           || ($rf->{status} == 401
               && ($rf->{json}{code} // '') eq 'invalid_refresh_token'),
           "$tag: refresh 200 or 401 invalid_refresh_token"
            or diag "got $rf->{status} $rf->{body}";
        is psql('SELECT revoked_at IS NOT NULL FROM sessions WHERE id = $1',
                $sid), 't', "$tag: the session ends revoked";
        if ($rf->{status} == 200) {
            $won{refresh}++;
            my $r = api(POST => '/auth/refresh',
                        json => { refresh_token => $rf->{json}{refresh_token} });
            is $r->{status}, 401, "$tag: refresh won; its new refresh "
                                  . 'token is dead';
            $r = api(GET => '/auth/profile',
                     headers => bearer($rf->{json}{access_token}));
            is $r->{status}, 401, "$tag: refresh won; its new access "
                                  . 'token is dead';
        } else {
            $won{logout}++;
        }
        my $r = api(GET => '/auth/profile', headers => bearer($access));
        is $r->{status}, 401, "$tag: the old access token is dead";
    }
    note "logout vs refresh: refresh answered 200 in $won{refresh} of "
         . "$ROUNDS rounds, 401 in $won{logout}";
}

# --------------------------------------- 4. change-password from two sessions

{
    my $ROUNDS = $VALGRIND ? 2 : 4;
    my %codes;
    for my $round (1 .. $ROUNDS) {
        my $email = unique_email('race-pw');
        my $old = "old password $round";
        my $j = register($email, $old);
        my $a_access = $j->{access_token} // '';
        my $l = login($email, $old);
        is $l->{status}, 200, "setup: second session";
        my $b_access = $l->{json}{access_token} // '';
        my %sid = (A => claims($a_access)->{sid} // '',
                   B => claims($b_access)->{sid} // '');
        my %new = (A => "new password A$round", B => "new password B$round");
        my @res = race(
            raw_request(POST => '/user/change-password',
                        headers => bearer($a_access),
                        json => { currentPassword => $old,
                                  newPassword => $new{A} }),
            raw_request(POST => '/user/change-password',
                        headers => bearer($b_access),
                        json => { currentPassword => $old,
                                  newPassword => $new{B} }));
        my %res = (A => $res[0], B => $res[1]);
        my $tag = "round $round";
        my @won = grep { $res{$_}{status} == 200 } qw(A B);
        is scalar(@won), 1, "$tag: exactly one change-password answered 200"
            or diag tally(@res);
        next unless @won == 1;
        my $w = $won[0];
        my $lo = $w eq 'A' ? 'B' : 'A';
        my $lcode = $res{$lo}{json}{code} // '';
        $codes{$lcode}++;
        ok $res{$lo}{status} == 401
           && ($lcode eq 'invalid_token'
               || $lcode eq 'current_password_incorrect'),
           "$tag: the other is 401 invalid_token or "
           . "current_password_incorrect ($res{$lo}{status} $lcode)";
        is login($email, $new{$w})->{status}, 200,
            "$tag: the winner's new password works";
        is login($email, $new{$lo})->{status}, 401,
            "$tag: the loser's new password does not";
        is login($email, $old)->{status}, 401,
            "$tag: the old password does not";
        is api(GET => '/auth/profile',
               headers => bearer($w eq 'A' ? $a_access : $b_access))
               ->{status}, 200, "$tag: the winner's session still works";
        is api(GET => '/auth/profile',
               headers => bearer($w eq 'A' ? $b_access : $a_access))
               ->{status}, 401, "$tag: the loser's session is revoked";
        is psql('SELECT revoke_reason FROM sessions WHERE id = $1', $sid{$lo}),
            'password_changed', "$tag: loser's session revoke_reason";
        is psql('SELECT revoked_at IS NULL FROM sessions WHERE id = $1',
                $sid{$w}), 't', "$tag: winner's session not revoked";
    }
    note 'change-password race, loser codes: '
         . join(', ', map { "$_ x$codes{$_}" } sort keys %codes);
}

# ------------------------------------------------------------- end

unlike error_log(), qr/exited on signal/, 'no worker crashed';
stop_nginx();

done_testing;
