# When the system's random generator fails while a refresh token is made
# (register after its hash, login, refresh), the request answers 500
# internal_error and the log says what failed: "RAND_bytes failed", not a
# password hashing failure.
#
# The failure is real, not mocked in the module: a tiny LD_PRELOAD library
# built here wraps OpenSSL's RAND_bytes and fails 32-byte requests (the
# refresh token's size; salts and JWT ids are 16) while a trigger file
# exists.  Not under valgrind (the preload would wrap valgrind's tools).

use strict;
use warnings;

use File::Temp qw(tempdir);
use Test::More;
use FluentAI::Test;
use Test::Nginx::Util ();

plan skip_all => 'LD_PRELOAD is not used under valgrind'
    if $Test::Nginx::Util::UseValgrind;

my $dir = tempdir(CLEANUP => 1);
chmod 0755, $dir;
my $trigger = "$dir/fail-rand";

open my $c, '>', "$dir/randfail.c" or die "$dir/randfail.c: $!\n";
print $c <<"_C_";
#define _GNU_SOURCE
#include <dlfcn.h>
#include <unistd.h>

int
RAND_bytes(unsigned char *buf, int num)
{
    static int  (*real)(unsigned char *, int);

    if (num == 32 && access("$trigger", F_OK) == 0) {
        return 0;
    }

    if (real == NULL) {
        real = (int (*)(unsigned char *, int)) dlsym(RTLD_NEXT, "RAND_bytes");
    }

    return real(buf, num);
}
_C_
close $c;

system('gcc', '-shared', '-fPIC', '-O1', '-o', "$dir/randfail.so",
       "$dir/randfail.c", '-ldl') == 0
    or BAIL_OUT('could not build the RAND_bytes shim');

{
    local $ENV{LD_PRELOAD} = "$dir/randfail.so";
    start_nginx(main_config => fluentai_main_config(),
                http_config => fluentai_http_config(),
                config      => fluentai_locations())
        or BAIL_OUT('nginx did not start');
}

my $pw = 'correct horse battery';
my $email = unique_email('randfail');
my $r = api(POST => '/auth/register',
            json => { name => 'Rand', email => $email, password => $pw });
is $r->{status}, 200, 'register works while the generator works';

sub fail_rand {
    my ($what, @req) = @_;
    open my $t, '>', $trigger or die "$trigger: $!\n";
    close $t;
    my $mark = error_log_mark();
    my $res = api(@req);
    unlink $trigger;
    is $res->{status}, 500, "$what: 500 when RAND_bytes fails";
    is $res->{json}{code}, 'internal_error', "$what: internal_error";
    my $log = error_log_since($mark);
    like $log, qr/fluentai: RAND_bytes failed/,
        "$what: \"RAND_bytes failed\" is logged";
    unlike $log, qr/password hashing failed/,
        "$what: not logged as a password hashing failure";
    return $res;
}

fail_rand('register', POST => '/auth/register',
          json => { name => 'Rand', email => unique_email('randfail2'),
                    password => $pw });
is psql('SELECT count(*) FROM users WHERE email LIKE $1', 'randfail2-%'), 0,
    'register: no user row left behind';

fail_rand('login', POST => '/auth/login',
          json => { email => $email, password => $pw });

$r = api(POST => '/auth/login', json => { email => $email, password => $pw });
is $r->{status}, 200, 'login works again once the generator does';

stop_nginx(allow => qr/RAND_bytes failed/);

done_testing;
