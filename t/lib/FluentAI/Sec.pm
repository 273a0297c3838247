package FluentAI::Sec;

# Helpers of the session-integrity suites (t/integrity.t, t/lostanswer.t,
# t/logsecrets.t, t/wipe.t): users and sessions through the API, a psql
# session holding a lock in the background, JWT payloads.

use strict;
use warnings;

use Exporter 'import';
use FluentAI::Test;
use MIME::Base64 qw(decode_base64url);
use POSIX ();
use Time::HiRes qw(time sleep);

our @EXPORT = qw(bearer jwt_payload code login new_user new_session
                 psql_hold);

sub bearer { return { Authorization => "Bearer $_[0]" } }

sub jwt_payload {
    my (undef, $p) = split /\./, $_[0] // '';
    return json_decode(decode_base64url($p // '')) // {};
}

# "401 invalid_token", "200 " (no code)
sub code { my ($r) = @_; return "$r->{status} " . ($r->{json}{code} // '') }

sub login {
    my ($email, $pw) = @_;
    return api(POST => '/auth/login',
               json => { email => $email, password => $pw });
}

# a registered user: { id, email, password, access, refresh, sid }
sub new_user {
    my ($tag, $pw) = @_;
    my $email = unique_email($tag);
    $pw //= "Pass-$tag-" . int(rand(1e9));
    my $r = api(POST => '/auth/register',
                json => { name => "User $tag", email => $email,
                          password => $pw });
    die "register $tag: $r->{status} $r->{body}\n" unless $r->{status} == 200;
    return { id => $r->{json}{user}{id}, email => $email, password => $pw,
             access => $r->{json}{access_token},
             refresh => $r->{json}{refresh_token},
             sid => jwt_payload($r->{json}{access_token})->{sid} };
}

# one more session of the user: { access, refresh, sid }
sub new_session {
    my ($u) = @_;
    my $r = login($u->{email}, $u->{password});
    die "login $u->{email}: $r->{status} $r->{body}\n" unless $r->{status} == 200;
    return { access => $r->{json}{access_token},
             refresh => $r->{json}{refresh_token},
             sid => jwt_payload($r->{json}{access_token})->{sid} };
}

# psql_hold($app, $sql): runs "BEGIN; $sql; SELECT pg_sleep($secs); COMMIT"
# in the background as application_name $app and returns its pid once it
# sleeps, i.e. holds what $sql took.  End it early with
# pg_terminate_backend or wait for it.
sub psql_hold {
    my ($app, $sql, $secs) = @_;
    my $conninfo = $ENV{TEST_NGINX_PG_CONNINFO}
        // die "TEST_NGINX_PG_CONNINFO is not set (run via t/run-suites)\n";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        exec('psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d',
             "$conninfo application_name=$app", '-c',
             "BEGIN; $sql; SELECT pg_sleep($secs); COMMIT;")
            or POSIX::_exit(127);
    }
    my $t0 = time;
    until (psql(q{SELECT count(*) FROM pg_stat_activity
                   WHERE application_name = $1
                     AND query LIKE '%pg_sleep%'}, $app) > 0) {
        die "psql_hold $app did not start\n" if time - $t0 > 10;
        sleep 0.05;
    }
    return $pid;
}

1;
