package FluentAI::Patroni;

# A real Patroni cluster on loopback for the failover suite (t/ha/): one
# etcd, two PostgreSQL 15 members managed by Patroni with synchronous
# replication (synchronous_mode), everything in a temp dir, all processes
# stopped when the test process ends.
#
#   my $pc = FluentAI::Patroni->new(ports => [map { extra_port($_) } 30..35]);
#   $pc->start;                         # etcd, m1 (leader), m2 (sync standby)
#   my $leader = $pc->leader;           # 'm1' or 'm2'
#   $pc->pg_port($leader), $pc->conninfo($leader, 'db')
#   $pc->switchover;                    # REST POST /switchover, waits
#   $pc->crash($leader);                # kill -9 Patroni and PostgreSQL
#   $pc->promoted_at($member, $since)   # from that member's PostgreSQL log
#
# Patroni and etcd run as postgres (PostgreSQL refuses root), each in its
# own process group.  Timings are tuned for a test (ttl 8 s, loop_wait 1 s,
# retry_timeout 3 s: a crashed leader's key expires within 8 s); fsync is
# off (a kill -9 loses nothing the page cache holds; the suite tests
# processes dying, not power loss).

use strict;
use warnings;

use File::Temp qw(tempdir);
use HTTP::Tiny;
use IPC::Run ();
use JSON::PP ();
use POSIX ();
use Time::HiRes qw(time sleep);
use Time::Local qw(timegm);
use FluentAI::Cluster qw(as_postgres_cmd);

my $PG_BIN = $ENV{PG_BIN} // '/usr/lib/postgresql/15/bin';
my $JSON = JSON::PP->new->utf8->canonical;
my $Owner = $$;
my @Instances;

sub new {
    my ($class, %o) = @_;
    my @p = @{ $o{ports} };
    my $dir = tempdir('fluentai-patroni.XXXXXX', TMPDIR => 1, CLEANUP => 1);
    chmod 0755, $dir;
    my $self = bless {
        dir => $dir, etcd_client => $p[0], etcd_peer => $p[1],
        members => {
            m1 => { rest => $p[2], pg => $p[3] },
            m2 => { rest => $p[4], pg => $p[5] },
        },
        pids => {}, http => HTTP::Tiny->new(timeout => 5),
    }, $class;
    push @Instances, $self;
    return $self;
}

sub _chown {
    my @f = @_;
    return unless $< == 0;
    my ($uid, $gid) = (getpwnam 'postgres')[2, 3];
    chown $uid, $gid, @f;
}

# fork, become postgres, new process group, exec; output to $log
sub _spawn {
    my ($self, $name, $log, @cmd) = @_;
    my $pid = fork;
    die "fork: $!\n" unless defined $pid;
    if ($pid == 0) {
        POSIX::setsid();
        if ($< == 0) {
            my ($uid, $gid) = (getpwnam 'postgres')[2, 3];
            POSIX::setgid($gid);
            $) = "$gid $gid";
            POSIX::setuid($uid);
        }
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $log or POSIX::_exit(127);
        open STDERR, '>&', \*STDOUT;
        $ENV{HOME} = $self->{dir};
        exec @cmd or POSIX::_exit(127);
    }
    $self->{pids}{$name} = $pid;
    return $pid;
}

sub start {
    my ($self) = @_;
    my $d = $self->{dir};
    mkdir "$d/etcd";
    _chown($d, "$d/etcd");
    my ($ec, $ep) = @$self{qw(etcd_client etcd_peer)};
    $self->_spawn('etcd', "$d/etcd.log", 'etcd', '--name', 'ha',
        '--data-dir', "$d/etcd/data",
        '--listen-client-urls', "http://127.0.0.1:$ec",
        '--advertise-client-urls', "http://127.0.0.1:$ec",
        '--listen-peer-urls', "http://127.0.0.1:$ep",
        '--initial-advertise-peer-urls', "http://127.0.0.1:$ep",
        '--initial-cluster', "ha=http://127.0.0.1:$ep",
        '--heartbeat-interval', '100', '--election-timeout', '1000');
    $self->_wait('etcd is up', 30, sub {
        my $r = $self->{http}->get("http://127.0.0.1:$ec/health");
        $r->{success} && $r->{content} =~ /"health":\s*"true"/;
    });
    $self->start_member('m1');
    $self->_wait('m1 leads', 60, sub { ($self->leader // '') eq 'm1' });
    $self->start_member('m2');
    $self->wait_sync('m1', 'm2', 60);
}

sub _yaml_member {
    my ($self, $name) = @_;
    my $d = "$self->{dir}/$name";
    my $m = $self->{members}{$name};
    return <<"EOF";
scope: fluentai-ha
name: $name
log:
  level: INFO
restapi:
  listen: 127.0.0.1:$m->{rest}
  connect_address: 127.0.0.1:$m->{rest}
etcd3:
  hosts: 127.0.0.1:$self->{etcd_client}
bootstrap:
  dcs:
    ttl: 8
    loop_wait: 1
    retry_timeout: 3
    maximum_lag_on_failover: 1048576
    synchronous_mode: true
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        fsync: 'off'
        wal_level: replica
        hot_standby: 'on'
        wal_log_hints: 'on'
        max_wal_senders: 5
        max_replication_slots: 5
        max_connections: 100
  initdb:
    - encoding: UTF8
    - locale: C
    - auth: trust
    - no-sync
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 trust
    - local replication all trust
    - host replication all 127.0.0.1/32 trust
postgresql:
  listen: 127.0.0.1:$m->{pg}
  connect_address: 127.0.0.1:$m->{pg}
  data_dir: $d/data
  bin_dir: $PG_BIN
  pgpass: $d/pgpass
  authentication:
    superuser:
      username: postgres
    replication:
      username: postgres
    rewind:
      username: postgres
  parameters:
    unix_socket_directories: $d/sock
    logging_collector: 'on'
    log_directory: $d/log
    log_filename: postgresql.log
    log_file_mode: '0644'
    log_line_prefix: '%m [%p] '
    log_timezone: UTC
  basebackup:
    - checkpoint: fast
tags:
  nofailover: false
  noloadbalance: false
  clonefrom: false
EOF
}

sub start_member {
    my ($self, $name) = @_;
    my $d = "$self->{dir}/$name";
    mkdir $d;
    mkdir "$d/$_" for qw(sock log);
    open my $fh, '>', "$d/patroni.yml" or die "$d/patroni.yml: $!\n";
    print $fh $self->_yaml_member($name);
    close $fh;
    _chown($d, "$d/sock", "$d/log", "$d/patroni.yml");
    $self->_spawn($name, "$d/patroni.log", 'patroni', "$d/patroni.yml");
}

sub _wait {
    my ($self, $what, $secs, $cond) = @_;
    my $deadline = time + $secs;
    until ($cond->()) {
        if (time > $deadline) {
            die "timed out after $secs s waiting until $what\n"
                . $self->diagnostics;
        }
        sleep 0.1;
    }
}

sub diagnostics {
    my ($self) = @_;
    my $out = '';
    for my $f (glob("$self->{dir}/*/patroni.log"), "$self->{dir}/etcd.log") {
        open my $fh, '<', $f or next;
        my @l = <$fh>;
        close $fh;
        $out .= "--- $f (last lines)\n" . join '', @l[-15 .. -1];
    }
    return $out;
}

# GET /cluster from any member that answers
sub cluster {
    my ($self) = @_;
    for my $m (sort keys %{ $self->{members} }) {
        next unless $self->{pids}{$m};
        my $r = $self->{http}->get(
            "http://127.0.0.1:$self->{members}{$m}{rest}/cluster");
        next unless $r->{success};
        my $c = eval { $JSON->decode($r->{content}) } or next;
        return $c;
    }
    return undef;
}

sub _member_info {
    my ($self, $name) = @_;
    my $c = $self->cluster or return undef;
    my ($m) = grep { $_->{name} eq $name } @{ $c->{members} // [] };
    return $m;
}

# the member that leads and runs, or undef
sub leader {
    my ($self) = @_;
    my $c = $self->cluster or return undef;
    my ($l) = grep { $_->{role} eq 'leader' && $_->{state} eq 'running' }
              @{ $c->{members} // [] };
    return $l ? $l->{name} : undef;
}

sub other { return $_[1] eq 'm1' ? 'm2' : 'm1' }

sub wait_sync {
    my ($self, $leader, $standby, $secs) = @_;
    $self->_wait("$leader leads with $standby as its streaming synchronous "
                 . 'standby', $secs, sub {
        my $c = $self->cluster or return 0;
        my %m = map { $_->{name} => $_ } @{ $c->{members} // [] };
        $m{$leader} && $m{$leader}{role} eq 'leader'
            && $m{$standby} && $m{$standby}{role} eq 'sync_standby'
            && ($m{$standby}{state} eq 'streaming'
                || $m{$standby}{state} eq 'running')
            && ($self->psql($leader, 'postgres',
                    "SELECT sync_state FROM pg_stat_replication "
                    . "WHERE application_name = '$standby'") eq 'sync');
    });
}

# planned switchover to the other member: REST POST /switchover; returns
# the time the request was made
sub switchover {
    my ($self) = @_;
    my $from = $self->leader or die "switchover: no leader\n";
    my $to = $self->other($from);
    my $t = time;
    my $r = $self->{http}->post(
        "http://127.0.0.1:$self->{members}{$from}{rest}/switchover",
        { content => $JSON->encode({ leader => $from, candidate => $to }),
          headers => { 'Content-Type' => 'application/json' } });
    die "switchover: $r->{status} $r->{content}\n" unless $r->{success};
    return ($t, $from, $to);
}

# a node crash: kill -9 Patroni, the postmaster and every backend of it
sub crash {
    my ($self, $name) = @_;
    my @pids = ($self->{pids}{$name} // ());
    my $pm = $self->postmaster_pid($name);
    if ($pm) {
        push @pids, $pm;
        opendir my $dh, '/proc' or die "/proc: $!\n";
        for my $p (grep { /^\d+$/ } readdir $dh) {
            open my $fh, '<', "/proc/$p/stat" or next;
            my $stat = <$fh> // '';
            close $fh;
            my ($ppid) = $stat =~ /^\d+ \(.*\) \S (\d+)/;
            push @pids, $p if defined $ppid && $ppid == $pm;
        }
        closedir $dh;
    }
    my $t = time;
    kill 'KILL', @pids;
    waitpid $self->{pids}{$name}, 0 if $self->{pids}{$name};
    delete $self->{pids}{$name};
    return $t;
}

sub postmaster_pid {
    my ($self, $name) = @_;
    open my $fh, '<', "$self->{dir}/$name/data/postmaster.pid" or return;
    my $pid = <$fh>;
    close $fh;
    chomp $pid if defined $pid;
    return $pid && kill(0, $pid) ? $pid : undef;
}

sub pg_port { $_[0]{members}{$_[1]}{pg} }

sub conninfo {
    my ($self, $name, $db) = @_;
    return "host=127.0.0.1 port=$self->{members}{$name}{pg} dbname=$db "
           . 'user=postgres sslmode=disable';
}

sub psql {
    my ($self, $name, $db, $sql) = @_;
    my ($out, $err) = ('', '');
    require IPC::Run;
    IPC::Run::run(['psql', '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1',
                   '-d', $self->conninfo($name, $db) . ' connect_timeout=3',
                   '-f', '-'], \$sql, \$out, \$err)
        or return '';
    $out =~ s/^\s+|\s+$//g;
    return $out;
}

# the time (epoch seconds) $name's PostgreSQL finished a promotion logged
# after $since: its "database system is ready to accept connections"
# after "selected new timeline ID"
sub promoted_at {
    my ($self, $name, $since) = @_;
    open my $fh, '<', "$self->{dir}/$name/log/postgresql.log" or return;
    my ($seen, $at);
    while (my $l = <$fh>) {
        my ($Y, $M, $D, $h, $m, $s) =
            $l =~ /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d\.\d+) UTC/
            or next;
        my $t = timegm(0, $m, $h, $D, $M - 1, $Y) + $s;
        next if $t < $since;
        $seen = 1 if $l =~ /selected new timeline ID/;
        if ($seen && $l =~ /database system is ready to accept connections/)
        {
            $at = $t;
            last;
        }
    }
    close $fh;
    return $at;
}

sub stop {
    my ($self) = @_;
    my @m = grep { $_ ne 'etcd' } keys %{ $self->{pids} };
    kill 'TERM', map { $self->{pids}{$_} } @m;
    my $deadline = time + 15;
    for my $n (@m) {
        my $pid = $self->{pids}{$n};
        while (waitpid($pid, POSIX::WNOHANG()) == 0) {
            if (time > $deadline) { kill 'KILL', $pid; waitpid $pid, 0; last }
            sleep 0.1;
        }
        # a postmaster Patroni left behind (Patroni killed before it)
        my $pm = $self->postmaster_pid($n);
        if ($pm) {
            IPC::Run::run([as_postgres_cmd("$PG_BIN/pg_ctl", '-D',
                "$self->{dir}/$n/data", '-m', 'immediate', '-w', 'stop')],
                \undef, \my $o, \my $e);
        }
        delete $self->{pids}{$n};
    }
    if (my $pid = delete $self->{pids}{etcd}) {
        kill 'TERM', $pid;
        waitpid $pid, 0;
    }
}

$SIG{$_} = sub { exit 1 } for qw(INT TERM PIPE HUP);

END {
    if ($$ == $Owner) {
        my $rc = $?;
        $_->stop for @Instances;
        $? = $rc;
    }
}

1;
