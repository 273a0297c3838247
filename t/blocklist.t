#!/usr/bin/perl
# Common and blank passwords are refused for every new password (issue
# 13): "fluentai_password_blocklist FILE" (one password a line, compared
# case-insensitively) and passwords of only white space, at register and
# change-password: 422 "password_too_common" with a details entry naming
# the field, before any hashing or database write.
#
#   t/run-suites t/blocklist.t
#
# The list is a small file written here (a john-style comment line, a CRLF
# line, upper case, UTF-8); when Debian's john-data is installed its
# password.lst is loaded too, in a second server.

use strict;
use warnings;
use utf8;

use Test::More;
use FluentAI::Test qw(:DEFAULT bearer new_user);
use FluentAI::Files;

my $dir = conf_files('fluentai-blocklist',
    'list.txt' => "#!comment: a john-style comment line\n"
                  . "Password\n" . "letmein-now\r\n" . "\n"
                  . "Correct Horse\n"
                  . "p\xc3\xa4ssw\xc3\xb6rd-\xc3\xa4\xc3\xb6\n"
                  . "password\n");       # a duplicate (case) is kept once

start_nginx(main_config => fluentai_main_config(),
            http_config => fluentai_http_config(
                extra => "    fluentai_password_blocklist $dir/list.txt;\n"),
            config      => fluentai_locations())
    or BAIL_OUT('nginx did not start');


sub register {
    my ($email, $password) = @_;
    return api(POST => '/auth/register',
               json => { name => 'Block', email => $email,
                         password => $password });
}

sub refused {
    my ($r, $field, $label) = @_;
    is $r->{status}, 422, "$label: 422";
    my $j = $r->{json} // {};
    is $j->{code}, 'password_too_common', "$label: code password_too_common";
    my $d = ($j->{details} // [])->[0] // {};
    is_deeply [ $d->{loc}, $d->{type} ],
        [ [ 'body', $field ], 'value_error.password_too_common' ],
        "$label: details name $field, type value_error.password_too_common";
}

my %refused = (
    'on the list'                   => 'password',
    'upper case of a listed one'    => 'PASSWORD',
    'mixed case'                    => 'pAsSwOrD',
    'a CRLF line'                   => 'letmein-now',
    'a line with a space'           => 'correct horse',
    'UTF-8 line (ASCII case folded)' => "p\x{e4}ssw\x{f6}rd-\x{e4}\x{f6}",
    'eight spaces'                  => ' ' x 8,
    'tabs and spaces'               => "\t \t \t \t ",
    'Unicode white space only'      => "\x{3000}\x{a0}\x{2003}\x{2009} \t\n\r",
);

for my $label (sort keys %refused) {
    my $email = unique_email('block');
    refused(register($email, $refused{$label}), 'password',
            "register, $label");
    is psql('SELECT count(*) FROM users WHERE email = $1', $email), 0,
        "register, $label: no user row";
}

my $r = register(unique_email('block'), 'password ');
is $r->{status}, 200, 'a listed password with a trailing space is another '
    . 'password: 200';
$r = register(unique_email('block'), "  white space  \x{a0} inside ");
is $r->{status}, 200, 'white space with other characters: 200';

# a validation error still comes first, with all its fields
$r = register('not-an-email', 'short');
is $r->{status}, 422, 'short password and bad email: 422';
is $r->{json}{code}, 'validation_failed', '... validation_failed first';

# change-password
my $u = new_user('block-change');
for my $label ('on the list', 'eight spaces', 'upper case of a listed one') {
    $r = api(POST => '/user/change-password', headers => bearer($u->{access}),
             json => { currentPassword => $u->{password},
                       newPassword => $refused{$label} });
    refused($r, 'newPassword', "change-password, $label");
}
$r = api(POST => '/user/change-password', headers => bearer($u->{access}),
         json => { current_password => $u->{password},
                   new_password => 'PassWord' });
refused($r, 'newPassword', 'change-password, snake_case field');
$r = api(POST => '/auth/login',
         json => { email => $u->{email}, password => $u->{password} });
is $r->{status}, 200, 'the old password still works';
$r = api(POST => '/user/change-password', headers => bearer($u->{access}),
         json => { currentPassword => $u->{password},
                   newPassword => 'a fine new password' });
is $r->{status}, 200, 'change-password to an unlisted password: 200';

# login is not a place for new rules: an old password on the list still logs
# in (it was set before the list existed)
my $legacy = new_user('block-legacy');
psql(q{UPDATE users SET hashed_password = $1 WHERE id = $2::uuid},
     psql(q{SELECT hashed_password FROM users WHERE id = $1::uuid}, $u->{id}),
     $legacy->{id});
$r = api(POST => '/auth/login',
         json => { email => $legacy->{email},
                   password => 'a fine new password' });
is $r->{status}, 200, 'login checks no list';

unlike error_log(), qr/password(?:word)?\b.*(?:letmein|PassWord)/i,
    'no refused password in the error log';
stop_nginx();

# bad lists fail at configuration time
write_conf_file($dir, 'comments.txt', "#!comment: nothing else\n\n");
for my $bad (["$dir/missing.txt", qr/open\(\) "\Q$dir\E\/missing\.txt" failed/,
              'a missing file'],
             ["$dir/comments.txt", qr/the password blocklist has no passwords/,
              'a list without passwords'],
             ["$dir", qr/cannot read the password blocklist/,
              'a directory']) {
    my $res = Test::Nginx::Util::start_server(
        name => "$0 bad list", must_die => 1,
        main_config => fluentai_main_config(),
        http_config => fluentai_http_config(
            extra => "    fluentai_password_blocklist $bad->[0];\n"),
        config => fluentai_locations());
    ok !$res->{ok}, "$bad->[2]: nginx does not start";
    like $res->{stderr} // '', $bad->[1], "$bad->[2]: [emerg] says why";
    Test::Nginx::Util::stop_server() if $res->{ok};
}

# Debian's list, as nginx.conf.example and `make run` use it
SKIP: {
    my $john = '/usr/share/john/password.lst';
    skip "$john not installed (package john-data)", 7 unless -r $john;
    start_nginx(main_config => fluentai_main_config(),
                http_config => fluentai_http_config(
                    extra => "    fluentai_password_blocklist $john;\n"),
                config      => fluentai_locations())
        or BAIL_OUT('nginx did not start');
    for my $pw ('12345678', 'password', 'iloveyou', 'PRINCESS') {
        my $r = register(unique_email('john'), $pw);
        is $r->{json}{code}, 'password_too_common', "john-data: $pw refused";
    }
    $r = register(unique_email('john'), 'a long and unusual passphrase');
    is $r->{status}, 200, 'john-data: an unusual passphrase is taken';
    stop_nginx();
}

done_testing;
