#!/usr/bin/perl
# Plaintext passwords do not stay in the worker's memory (scenario style).
#
#   t/run-suites t/wipe.t        (as root: reads /proc/<pid>/mem)
#
# Register, login, a failed login, change-password, a rejected (422)
# register and login with the new password, each with its own password
# that appears nowhere else; then every writable mapping of the nginx
# worker (heap, thread stacks, anonymous memory) is read through
# /proc/<pid>/mem and searched for each password.  What held them (nginx's
# body buffers, the module's copy, jansson's strings and lexer buffers,
# the hashing threads' copies and stacks) must have been wiped before it
# was freed or reused.  Not under valgrind (it keeps its own copies).

use strict;
use warnings;
no warnings 'portable';

use Test::More;
use FluentAI::Test;
use FluentAI::Sec;

plan skip_all => 'valgrind keeps shadow copies of the memory'
    if $ENV{TEST_NGINX_USE_VALGRIND};
plan skip_all => 'reading /proc/<pid>/mem needs root' if $> != 0;

start_nginx(main_config => fluentai_main_config(threads => 2),
            http_config => fluentai_http_config(),
            config      => fluentai_locations())
    or BAIL_OUT('nginx did not start');

my $servroot = Test::Nginx::Util::servroot();
my $tag = sprintf '%08x%08x', int(rand(2**32)), int(rand(2**32));
our %pw = map { $_ => "Wipe-$_-$tag" } qw(register wrong changed rejected);

my $u = new_user('wipe', $pw{register});
is login($u->{email}, $pw{register})->{status}, 200, 'login';
is code(login($u->{email}, $pw{wrong})), '401 invalid_credentials',
    'a failed login';
my $s = new_session($u);
my $r = api(POST => '/user/change-password', headers => bearer($s->{access}),
            json => { currentPassword => $pw{register},
                      newPassword => $pw{changed} });
is $r->{status}, 200, 'change-password';
$r = api(POST => '/auth/register',
         json => { name => 'Wipe', email => 'not-an-email',
                   password => $pw{rejected} });
is $r->{status}, 422, 'a register rejected by validation (422)';
is login($u->{email}, $pw{changed})->{status}, 200,
    'login with the new password';
sleep 1;

# the worker: the master's child
my $master = do {
    open my $fh, '<', "$servroot/logs/nginx.pid" or die "no pid file: $!";
    my $p = <$fh>; chomp $p; $p;
};
sub parent_of {
    open my $fh, '<', "/proc/$_[0]/stat" or return 0;
    my $stat = <$fh> // '';
    return $stat =~ /\)\s+\S+\s+(\d+)/ ? $1 : 0;
}
my ($worker) = grep { parent_of($_) == $master }
               map { m{/proc/(\d+)$} ? $1 : () } glob('/proc/[0-9]*');
ok $worker, "the worker process ($worker)";

sub scan {
    my ($pid, @needles) = @_;
    my %hits;
    open my $maps, '<', "/proc/$pid/maps" or die "maps: $!";
    open my $mem, '<:raw', "/proc/$pid/mem" or die "mem: $!";
    my $bytes = 0;
    while (my $l = <$maps>) {
        my ($lo, $hi, $perm, $name) =
            $l =~ /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/
            or next;
        next unless $perm =~ /^rw/;
        $name ||= '[anon]';
        my ($a, $b) = (hex $lo, hex $hi);
        my $carry = '';
        for (my $off = $a; $off < $b; $off += 1 << 20) {
            my $n = $b - $off < (1 << 20) ? $b - $off : 1 << 20;
            sysseek($mem, $off, 0) or last;
            my $got = sysread($mem, my $buf, $n);
            last unless $got;
            $bytes += $got;
            my $hay = $carry . $buf;
            for my $k (keys %pw) {
                $hits{$k}{$name}++ if index($hay, $pw{$k}) >= 0;
            }
            $carry = substr($buf, -64);
        }
    }
    return (\%hits, $bytes);
}

my ($hits, $bytes) = scan($worker);
note sprintf 'wipe: %.1f MB of writable worker memory read', $bytes / 2**20;
ok $bytes > 1 << 20, 'the scan read the worker\'s memory';
for my $k (sort keys %pw) {
    my $where = join ', ', map { "$_ x$hits->{$k}{$_}" }
                           sort keys %{ $hits->{$k} // {} };
    ok !$hits->{$k}, "the $k password is nowhere in the worker's memory"
        or diag "found in: $where";
}

# the scanner finds what the worker does hold: its prefix path
{
    local %pw = (prefix => $servroot);
    my ($h) = scan($worker);
    ok $h->{prefix}, 'the scanner finds a string the worker holds (its'
                     . ' prefix)';
}

stop_nginx();
done_testing();
