#!/usr/bin/perl
# A failed login takes the same time whatever the account's stored hash
# (issue 13): a legacy bcrypt (cost 12) user of the original backend, an
# argon2id user with older parameters, and unknown emails (the dummy hash,
# current parameters) all answer 401 invalid_credentials after
# fluentai_login_failure_delay, kept on an nginx timer.
#
#   t/run-suites t/timing-hashes.t
#
# Before: with the delay off (fluentai_login_failure_delay 0) the hash
# kinds are told apart by time; measured here too (fewer tries), and the
# bcrypt median must be well above the unknown-email one, which shows that
# the comparison below can fail.  After: with the delay on, 30 wrong-
# password logins of each kind, each on a new connection; the medians must
# differ by less than 10 % of the largest.  The three kinds run at once,
# one client each, so that all of them see the same machine load.  The
# test delay (2 s) is comfortably above the slowest verify of this
# configuration (bcrypt cost 12: 0.25 s of CPU, about 1 s on this loaded
# shared machine, with the hashing threads at nice 10), as the delay must
# be in production: see README "Brute force and enumeration".
#
# Under TEST_NGINX_USE_VALGRIND the timing comparisons are skipped (argon2
# and bcrypt run ~50x slower there: a bcrypt cost 12 verify takes seconds)
# and so are the warm-up logins, which serve only the timing; one try of
# each kind with the delay off and one with it on, whose answers are
# still checked.

use strict;
use warnings;

use Test::More;
use FluentAI::Test qw(:DEFAULT new_user);
use Time::HiRes qw(time);
use POSIX ();

my $VALGRIND = $Test::Nginx::Util::UseValgrind;
my $N = $VALGRIND ? 1 : ($ENV{FLUENTAI_TIMING_TRIES} || 30);
my $N_BEFORE = $VALGRIND ? 1 : ($ENV{FLUENTAI_TIMING_BEFORE_TRIES} || 8);
my $DELAY = $ENV{FLUENTAI_TIMING_DELAY} || 2000;     # ms
my $OLD = 'm=19456 t=2 p=1';       # older parameters than the config's

sub conf {
    my (%o) = @_;
    return (main_config => fluentai_main_config(threads => 2),
            http_config => fluentai_http_config(
                               password_hash => $o{hash} // 'm=4096 t=1 p=1',
                               login_failure_delay => "$o{delay}ms"),
            config      => fluentai_locations());
}

# --------------------------------------------------------------- the users
start_nginx(conf(hash => $OLD, delay => 0)) or BAIL_OUT('nginx');
my $argon = new_user('timing-argon-old');
like psql('SELECT hashed_password FROM users WHERE id = $1::uuid',
          $argon->{id}),
     qr/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/,
     'setup: an argon2id user with m=19456 t=2 p=1';
stop_nginx();

my $bcrypt = new_user_bcrypt();

sub new_user_bcrypt {
    my $email = unique_email('timing-bcrypt');
    my @c = ('.', '/', 'A' .. 'Z', 'a' .. 'z', 0 .. 9);
    my $salt = join '', map { $c[rand @c] } 1 .. 21;
    $salt .= 'e';                    # the 22nd character carries 4 bits
    my $hash = crypt('legacy password', '$2b$12$' . $salt);
    like $hash, qr/^\$2b\$12\$.{53}$/, 'setup: a bcrypt cost 12 hash';
    psql(q{INSERT INTO users (email, name, hashed_password)
           VALUES ($1, 'Legacy', $2)}, $email, $hash);
    return { email => $email, password => 'legacy password' };
}

my %kind = (
    bcrypt  => sub { { email => $bcrypt->{email},
                       password => "wrong password $_[0]" } },
    argon   => sub { { email => $argon->{email},
                       password => "wrong password $_[0]" } },
    unknown => sub { { email => unique_email('timing-nobody'),
                       password => "wrong password $_[0]" } },
);
my @KINDS = qw(bcrypt argon unknown);

sub median {
    my @s = sort { $a <=> $b } @_;
    return 0 unless @s;
    return @s % 2 ? $s[$#s / 2] : ($s[@s / 2 - 1] + $s[@s / 2]) / 2;
}

# $n tries of each kind; returns { kind => median seconds } and checks
# the answers.  $parallel: the kinds run at once, one client each (the
# same stretch of machine load for all of them), else interleaved, the
# order rotating every round.
sub measure {
    my ($n, $label, $parallel) = @_;
    my (%t, %bodies);
    my $one = sub {
        my ($k, $i) = @_;
        my $t0 = time;
        my $r = api(POST => '/auth/login', json => $kind{$k}->("$i"));
        return [time - $t0, "$r->{status} $r->{body}"];
    };
    my %res;
    if ($parallel) {
        my %pipe;
        for my $k (@KINDS) {
            pipe(my $rd, my $wr) or die "pipe: $!";
            my $pid = fork // die "fork: $!";
            if ($pid == 0) {
                close $rd;
                my @out = map { $one->($k, $_) } 1 .. $n;
                print $wr json_encode(\@out);
                close $wr;
                POSIX::_exit(0);
            }
            close $wr;
            $pipe{$k} = [$rd, $pid];
        }
        for my $k (@KINDS) {
            my ($rd, $pid) = @{ $pipe{$k} };
            local $/;
            $res{$k} = json_decode(<$rd> // '') // [];
            waitpid $pid, 0;
        }
    } else {
        for my $i (1 .. $n) {
            push @{ $res{$_} }, $one->($_, $i)
                for @KINDS[map { ($_ + $i) % 3 } 0 .. 2];
        }
    }
    for my $k (@KINDS) {
        is scalar @{ $res{$k} }, $n, "$label: $k: $n answers";
        push @{ $t{$k} }, $_->[0] for @{ $res{$k} };
        $bodies{$k}{ $_->[1] }++ for @{ $res{$k} };
    }
    for my $k (@KINDS) {
        is_deeply [keys %{ $bodies{$k} }], [keys %{ $bodies{unknown} }],
            "$label: $k: the same answer as an unknown email";
    }
    my ($any) = keys %{ $bodies{unknown} };
    like $any // '', qr/^401 .*"code":"invalid_credentials"/,
        "$label: 401 invalid_credentials";
    my %m = map { $_ => median(@{ $t{$_} }) } @KINDS;
    my $line = sprintf "%s: medians over %d tries each: %s", $label, $n,
        join ', ', map { sprintf '%s %.1f ms', $_, $m{$_} * 1000 } @KINDS;
    note $line;
    diag $line if $ENV{FLUENTAI_TIMING_REPORT};
    return \%m;
}

sub spread {
    my ($m) = @_;
    my @v = sort { $a <=> $b } values %$m;
    return $v[-1] ? ($v[-1] - $v[0]) / $v[-1] : 0;
}

# one login of each kind, so that the first one's costs are not measured
sub warm_up {
    return if $VALGRIND;
    api(POST => '/auth/login', json => $kind{$_}->('warm')) for @KINDS;
}

# ----------------------------------------------------- before: no delay
start_nginx(conf(delay => 0)) or BAIL_OUT('nginx');
warm_up();
my $before = measure($N_BEFORE, 'delay 0 (before)');
SKIP: {
    skip 'timing under valgrind', 1 if $VALGRIND;
    cmp_ok $before->{bcrypt}, '>', 2 * $before->{unknown},
        'without the delay a bcrypt user is told from an unknown email '
        . '(the comparison below can fail)';
}
stop_nginx();

# ------------------------------------------------------- after: delay on
start_nginx(conf(delay => $DELAY)) or BAIL_OUT('nginx');
warm_up();
my $after = measure($N, "delay $DELAY ms (after)", 1);
SKIP: {
    skip 'timing under valgrind', 2 if $VALGRIND;
    cmp_ok $after->{unknown}, '>=', $DELAY / 1000,
        'an unknown email waits the delay';
    cmp_ok spread($after), '<', 0.10, sprintf 'medians differ by less than '
        . '10 %% (%.1f %%)', spread($after) * 100;
}

# a right password is not delayed
my $t0 = time;
is api(POST => '/auth/login',
       json => { email => $argon->{email},
                 password => $argon->{password} })->{status}, 200,
    'the right password: 200';
SKIP: {
    skip 'timing under valgrind', 1 if $VALGRIND;
    cmp_ok time - $t0, '<', $DELAY / 1000, '... without the failure delay';
}

stop_nginx();
done_testing;
