# Hashing threads give way to the event loop: a thread of the pool lowers
# its own priority (nice 10) before its first argon2id job, so on a busy
# machine the workers' event loops win the CPU (bench/: profile p99 during
# a login storm).  The event loop thread itself keeps nice 0.

use strict;
use warnings;

use Test::More;
use FluentAI::Test;
use Test::Nginx::Util ();

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
done_testing();
