package FluentAI::Cluster;

# Extra PostgreSQL 15 clusters for suites that need more than the one
# t/run-suites starts (several hosts, a standby, a server that refuses
# SSL): initdb in a temp dir as postgres, loopback and a unix socket only,
# stopped ("-m immediate") and removed when the test process ends.
#
#   my $p = FluentAI::Cluster->primary(port => extra_port(10),
#                                      refuse_ssl => 1);
#   $p->migrate('fluentai_x');           # CREATE DATABASE + sql/migrate.sh
#   my $s = $p->standby(port => extra_port(11));
#   $s->{port}, $s->{sock}, $s->conninfo('fluentai_x')
#
# extra_port($n): the suites' own ports, TEST_NGINX_PORT + $n (Test::Nginx
# defaults it to 1984): parallel runs with ports 100 apart never collide.
# Without TEST_NGINX_PORT (outside Test::Nginx), a free port.

use strict;
use warnings;

use Cwd ();
use Exporter 'import';
use File::Temp qw(tempdir);
use IO::Socket::INET ();
use IPC::Run ();
use Time::HiRes qw(time sleep);

our @EXPORT_OK = qw(extra_port as_postgres_cmd);

my $PG_BIN = $ENV{PG_BIN} // '/usr/lib/postgresql/15/bin';
my @Clusters;
my $Owner = $$;

sub extra_port {
    my ($n) = @_;
    return $ENV{TEST_NGINX_PORT} + $n if $ENV{TEST_NGINX_PORT};
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0) or die "socket: $!\n";
    my $p = $s->sockport;
    close $s;
    return $p;
}

sub as_postgres_cmd {
    return $< == 0 ? ('runuser', '-u', 'postgres', '--', @_) : @_;
}

sub _run {
    my ($what, @cmd) = @_;
    my ($out, $err) = ('', '');
    IPC::Run::run([as_postgres_cmd(@cmd)], \undef, \$out, \$err)
        or die "$what failed: $err$out\n";
    return $out;
}

sub _spew {
    my ($f, $d, $append) = @_;
    open my $fh, $append ? '>>' : '>', $f or die "$f: $!\n";
    print $fh $d;
    close $fh or die "$f: $!\n";
}

sub _new {
    my ($class, %o) = @_;
    my $dir = tempdir("fluentai-$o{name}.XXXXXX", TMPDIR => 1, CLEANUP => 1);
    chmod 0755, $dir;
    mkdir "$dir/sock";
    my $self = bless { dir => $dir, data => "$dir/data", sock => "$dir/sock",
                       port => $o{port}, name => $o{name} }, $class;
    if ($< == 0) {
        my ($uid, $gid) = (getpwnam 'postgres')[2, 3];
        chown $uid, $gid, $dir, "$dir/sock";
    }
    push @Clusters, $self;
    return $self;
}

# a new primary; refuse_ssl => 1: ssl = on with a throwaway certificate,
# and pg_hba.conf rejects SSL connections over TCP (hostssl ... reject),
# so that libpq's default sslmode=prefer has to retry without SSL
sub primary {
    my ($class, %o) = @_;
    my $self = $class->_new(name => $o{name} // 'primary', %o);
    _run('initdb', "$PG_BIN/initdb", '-D', $self->{data}, '-A', 'trust',
         '-U', 'postgres', '--encoding', 'UTF8', '--locale', 'C', '--no-sync');
    my $conf = "listen_addresses = '127.0.0.1'\n"
             . "fsync = off\nmax_connections = 100\n"
             . "wal_level = replica\nmax_wal_senders = 5\n";
    if ($o{refuse_ssl}) {
        _run('openssl', 'openssl', 'req', '-x509', '-newkey', 'ec',
             '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
             '-subj', '/CN=localhost', '-days', '2',
             '-keyout', "$self->{data}/server.key",
             '-out', "$self->{data}/server.crt");
        $conf .= "ssl = on\n";
        my $hba = "$self->{data}/pg_hba.conf";
        open my $fh, '<', $hba or die "$hba: $!\n";
        my $old = do { local $/; <$fh> };
        close $fh;
        _spew($hba, "hostssl all all 127.0.0.1/32 reject\n"
                    . "hostssl all all ::1/128 reject\n" . $old);
    }
    _spew("$self->{data}/postgresql.conf", $conf, 1);
    $self->start;
    return $self;
}

# a streaming standby of $self (pg_basebackup -R over the unix socket)
sub standby {
    my ($self, %o) = @_;
    my $s = ref($self)->_new(name => $o{name} // 'standby', %o);
    rmdir $s->{data};
    _run('pg_basebackup', "$PG_BIN/pg_basebackup", '-D', $s->{data}, '-R',
         '-X', 'stream', '-c', 'fast', '--no-sync',
         '-d', $self->conninfo('postgres'));
    $s->start;
    my $deadline = time + 30;
    until ($s->psql('postgres', 'SELECT pg_is_in_recovery()') eq 't') {
        die "standby: not in recovery\n" if time > $deadline;
        sleep 0.1;
    }
    return $s;
}

sub start {
    my ($self) = @_;
    die "port $self->{port} is in use\n"
        if IO::Socket::INET->new(PeerAddr => "127.0.0.1:$self->{port}");
    _run('pg_ctl start', "$PG_BIN/pg_ctl", '-D', $self->{data}, '-w',
         '-t', '60', '-l', "$self->{dir}/pg.log", '-o',
         "-c port=$self->{port} -c unix_socket_directories=$self->{sock}",
         'start');
    $self->{running} = 1;
}

sub stop {
    my ($self) = @_;
    return unless $self->{running};
    IPC::Run::run([as_postgres_cmd("$PG_BIN/pg_ctl", '-D', $self->{data},
                                   '-m', 'immediate', '-w', 'stop')],
                  \undef, \my $out, \my $err);
    $self->{running} = 0;
}

sub conninfo {
    my ($self, $db) = @_;
    return "host=$self->{sock} port=$self->{port} dbname=$db user=postgres";
}

sub psql {
    my ($self, $db, $sql) = @_;
    my $out = _run('psql', 'psql', '-X', '-A', '-t', '-q', '-v',
                   'ON_ERROR_STOP=1', '-d', $self->conninfo($db), '-c', $sql);
    $out =~ s/^\s+|\s+$//g;
    return $out;
}

sub migrate {
    my ($self, $db) = @_;
    $self->psql('postgres', qq{CREATE DATABASE "$db"});
    my $top = Cwd::getcwd();
    my ($out, $err) = ('', '');
    IPC::Run::run(['bash', "$top/sql/migrate.sh", $self->conninfo($db)],
                  \undef, \$out, \$err)
        or die "sql/migrate.sh failed: $err\n";
}

# a signal (Ctrl-C, a closed pipe) must not leave clusters behind: exit,
# so that END runs
$SIG{$_} = sub { exit 1 } for qw(INT TERM PIPE HUP);

END {
    if ($$ == $Owner) {
        $_->stop for reverse @Clusters;
    }
}

1;
