#!/usr/bin/perl
# A lost answer does not log the user out (scenario style).
#
#   t/run-suites t/lostanswer.t
#
# The module's connections run with statement_timeout below
# fluentai_database_timeout, so a statement the module answers 503 for is
# cancelled and rolled back by the server as well.  A row lock on the
# session holds a refresh past the timeout: the refresh answers 503, and
# once the lock is gone the same refresh token still refreshes (on a
# server that finished the statement behind the module's back, the retry
# would be "refresh_token_reused" and the session revoked).  The same for
# PUT /user/profile: the 503 leaves the profile unchanged.

use strict;
use warnings;

use Test::More;
use FluentAI::Test;
use FluentAI::Sec;
use Time::HiRes qw(time sleep);

# Behind PgBouncer in transaction mode the module's "SET statement_timeout"
# holds only for the server connection it ran on (README: set it for the
# role there); the guarantee is then the operator's, not the module's.
plan skip_all => 'the session-level SET statement_timeout does not follow '
    . 'the module through PgBouncer\'s transaction pooling'
    if $ENV{TEST_NGINX_PGBOUNCER};

my $HOLD = 4;           # seconds the lock is held: well past the timeout

start_nginx(main_config => fluentai_main_config(),
            http_config => fluentai_http_config(
                extra => "    fluentai_database_timeout 1s;\n"),
            config      => fluentai_locations())
    or BAIL_OUT('nginx did not start');

# holds a row lock on $table's row $id for $HOLD seconds, in the background
sub lock_row {
    my ($table, $id) = @_;
    my $pid = psql_hold('fluentai-test-lostanswer',
                        "SELECT 1 FROM $table WHERE id = '$id' FOR UPDATE",
                        $HOLD);
    sleep 0.2;
    return $pid;
}

my $email = unique_email('lostanswer');
my $r = api(POST => '/auth/register',
            json => { name => 'Lost Answer', email => $email,
                      password => 'Lost-Answer-Pass-1' });
is $r->{status}, 200, 'register';
my $token = $r->{json}{refresh_token};
my $access = $r->{json}{access_token};
my $sid = jwt_payload($access)->{sid};

# refresh held past the timeout
{
    my $locker = lock_row('sessions', $sid);
    my $t0 = time;
    my $x = api(POST => '/auth/refresh', json => { refresh_token => $token });
    my $took = time - $t0;
    is code($x), '503 database_unavailable',
        'a refresh held by a row lock past the timeout: 503';
    ok $took < 1.5, sprintf 'the 503 comes within the timeout (%.2f s)', $took;
    waitpid $locker, 0;

    is psql(q{SELECT count(*) FROM refresh_tokens t JOIN sessions s
               ON s.id = t.session_id WHERE s.id = $1}, $sid), 1,
        'after the 503: no new refresh token was stored (rolled back)';

    my $y = api(POST => '/auth/refresh', json => { refresh_token => $token });
    is $y->{status}, 200,
        'after the lock is gone, the same refresh token still refreshes'
        or diag $y->{body};
    is psql(q{SELECT revoked_at IS NULL FROM sessions WHERE id = $1}, $sid),
        't', 'the session is not revoked';
    $access = $y->{json}{access_token} // $access;
}

# a profile update held past the timeout
{
    my $uid = jwt_payload($access)->{sub};
    my $locker = lock_row('users', $uid);
    my $x = api(PUT => '/user/profile',
                headers => { Authorization => "Bearer $access" },
                json => { bio => 'written while locked' });
    is code($x), '503 database_unavailable',
        'a profile update held by a row lock past the timeout: 503';
    waitpid $locker, 0;
    sleep 0.5;
    is psql(q{SELECT coalesce(bio, '<null>') FROM users WHERE id = $1}, $uid),
        '<null>', 'after the 503 the profile is unchanged (rolled back)';
}

my $z = api(GET => '/auth/profile',
            headers => { Authorization => "Bearer $access" });
is $z->{status}, 200, 'the database serves the module again';

stop_nginx();
done_testing();
