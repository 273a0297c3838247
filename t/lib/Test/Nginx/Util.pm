package Test::Nginx::Util;

# Shared nginx process management for the project's small Test::Nginx
# compatible runner (Test::Nginx::Socket) and the scenario helpers
# (FluentAI::Test): config generation, start/stop, SIGHUP reloads, valgrind,
# error-log bookkeeping and a raw HTTP/1.1 client.
#
# This is NOT openresty's Test::Nginx::Util; it only shares the name so the
# .t files stay portable.  $Test::Nginx::Util::FLUENTAI_RUNNER marks it.

use strict;
use warnings;

use Cwd qw(getcwd);
use Exporter 'import';
use File::Path qw(make_path remove_tree);
use File::Spec;
use IO::Select;
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

our $FLUENTAI_RUNNER = 1;

our @EXPORT_OK = qw(
    expand_env http_request fatal_log_lines
);

sub _abs ($) {
    my $p = shift;
    return File::Spec->file_name_is_absolute($p) ? $p
         : File::Spec->catdir(getcwd(), $p);
}

our $NginxBinary = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
our $ServerPort  = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT}
                   || 1984;
$ENV{TEST_NGINX_PORT}        //= $ServerPort;
$ENV{TEST_NGINX_SERVER_PORT} //= $ServerPort;
our $ServerAddr  = '127.0.0.1';
our $ServRoot    = _abs($ENV{TEST_NGINX_SERVROOT} || 't/servroot');
our $LogLevel    = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $LoadModules = $ENV{TEST_NGINX_LOAD_MODULES} // '';
our $UseValgrind = $ENV{TEST_NGINX_USE_VALGRIND} ? 1 : 0;
our $UseHup      = $ENV{TEST_NGINX_USE_HUP} ? 1 : 0;
our $NoClean     = $ENV{TEST_NGINX_NO_CLEAN} ? 1 : 0;
our $Workers     = 1;
our $MasterOn    = 1;
our $NoRootLocation = 0;
our @EnvToNginx;
our $Verbose     = $ENV{TEST_NGINX_VERBOSE} ? 1 : 0;

# valgrind makes everything (startup, first requests, argon2) 20-50x slower
our $TimeoutFactor = $UseValgrind ? ($ENV{TEST_NGINX_VALGRIND_TIMEOUT_FACTOR}
                                     || 10) : 1;

if ($UseValgrind && $UseHup) {
    # valgrind needs master_process off; reloads need a master.
    warn "# TEST_NGINX_USE_VALGRIND overrides TEST_NGINX_USE_HUP\n";
    $UseHup = 0;
}

our $ConfDir  = "$ServRoot/conf";
our $LogDir   = "$ServRoot/logs";
our $HtmlDir  = "$ServRoot/html";
our $ConfFile = "$ConfDir/nginx.conf";
our $ErrLog   = "$LogDir/error.log";
our $PidFile  = "$LogDir/nginx.pid";
our $StderrFile   = "$LogDir/stderr.log";
our $ValgrindLog  = "$LogDir/valgrind.log";

my $SuppFile = do {
    my $here = File::Spec->rel2abs(__FILE__);
    my ($v, $d) = File::Spec->splitpath($here);
    File::Spec->catfile($d, File::Spec->updir, File::Spec->updir,
                        File::Spec->updir, 'valgrind.suppress');
};

# The running server: { pid => ..., valgrind => 0|1, owner => $$ }
our %Server;
my $Cleaned;

sub valgrind_error_exitcode () { 66 }

sub log_level { $LogLevel = shift if @_; $LogLevel }
sub workers   { $Workers = shift if @_; $Workers }
sub master_on { $MasterOn = 1 }
sub master_off { $MasterOn = 0 }
sub no_root_location { $NoRootLocation = 1 }
sub env_to_nginx { push @EnvToNginx, @_ }
sub server_port { $ServerPort }
sub servroot { $ServRoot }
sub timeout_factor { $TimeoutFactor }

# --- $TEST_NGINX_* expansion -------------------------------------------------

sub expand_env {
    my ($text, $name) = @_;
    return $text unless defined $text && !ref $text;
    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        defined $ENV{$1} ? $ENV{$1}
            : die(($name ? "$name - " : '')
                  . "environment variable $1 is not defined\n")
    }ge;
    return $text;
}

# --- config ------------------------------------------------------------------

sub gen_config {
    my (%a) = @_;
    my $name = $a{name};
    my $main = expand_env($a{main_config} // '', $name);
    my $http = expand_env($a{http_config} // '', $name);
    my $conf = expand_env($a{config} // '', $name);

    # behind PgBouncer in transaction mode (t/run-suites TEST_PGBOUNCER=1)
    if (($ENV{TEST_NGINX_PG_PREPARE} // '') eq 'off'
        && $http =~ /^\s*fluentai_database\s/m
        && $http !~ /fluentai_database_prepare/)
    {
        $http .= "    fluentai_database_prepare off;\n";
    }

    my $daemon = $UseValgrind ? 'off' : 'on';
    my $master = $UseValgrind ? 'off' : ($UseHup ? 'on'
                                        : ($MasterOn ? 'on' : 'off'));

    my $out = '';
    # Like the real Test::Nginx: as root, keep the workers root too, so they
    # can use servroot and the test data files whatever their modes.
    if ($> == 0 && $main !~ /^\s*user\s/m) {
        $out .= "user root;\n";
    }
    $out .= "worker_processes $Workers;\n"
          . "daemon $daemon;\n"
          . "master_process $master;\n"
          . "error_log logs/error.log $LogLevel;\n"
          . "pid logs/nginx.pid;\n";
    for my $m (grep { length } split /\s+/, $LoadModules) {
        $out .= "load_module $m;\n";
    }
    for my $v (@EnvToNginx) {
        $out .= "env $v;\n";
    }
    my $root_loc = $NoRootLocation ? '' : <<"_EOC_";
        location / {
            root html;
            index index.html index.htm;
        }
_EOC_
    $out .= <<"_EOC_";
$main

events {
    worker_connections 1024;
}

http {
    access_log logs/access.log;
    default_type text/plain;
    keepalive_timeout 68;
    client_body_temp_path $ServRoot/client_body_temp;
    proxy_temp_path $ServRoot/proxy_temp;
    fastcgi_temp_path $ServRoot/fastcgi_temp;
    uwsgi_temp_path $ServRoot/uwsgi_temp;
    scgi_temp_path $ServRoot/scgi_temp;

$http

    server {
        listen $ServerAddr:$ServerPort;
        server_name localhost;
        client_max_body_size 30M;

        # Begin test case config...
$conf
        # End test case config.

$root_loc    }
}
_EOC_
    return $out;
}

sub _write_file {
    my ($file, $data) = @_;
    open my $fh, '>', $file or die "cannot write $file: $!\n";
    print $fh $data;
    close $fh or die "cannot write $file: $!\n";
}

sub setup_servroot {
    # never remove servroot under a running server (HUP mode)
    stop_server_quietly() if server_running();
    remove_tree($ServRoot) if -d $ServRoot;
    make_path($ConfDir, $LogDir, $HtmlDir);
    _write_file("$HtmlDir/index.html",
                "<html><head><title>It works!</title></head>"
                . "<body>It works!</body></html>");
    # nginx creates the *_temp dirs itself (and chowns them to the worker)
}

# --- error log ---------------------------------------------------------------

sub error_log_size { -s $ErrLog || 0 }

sub read_error_log {
    my ($from) = @_;
    $from //= 0;
    open my $fh, '<', $ErrLog or return '';
    binmode $fh;
    seek $fh, $from, 0 if $from;
    local $/;
    my $data = <$fh>;
    close $fh;
    return $data // '';
}

sub read_file_text {
    my ($file) = @_;
    open my $fh, '<', $file or return '';
    local $/;
    my $d = <$fh>;
    close $fh;
    return $d // '';
}

sub fatal_log_lines {
    my ($text) = @_;
    return grep { /\[(?:alert|crit|emerg)\]/ } split /\n/, $text // '';
}

# --- processes ---------------------------------------------------------------

sub _pid_alive {
    my ($pid) = @_;
    return 0 unless $pid;
    # a zombie child of ours is not alive
    if (open my $fh, '<', "/proc/$pid/stat") {
        my $st = <$fh>;
        close $fh;
        return 0 if $st && $st =~ /^\d+ \(.*\) Z /s;
    }
    return kill(0, $pid) ? 1 : 0;
}

sub _children_of {
    my ($ppid) = @_;
    my @kids;
    opendir my $dh, '/proc' or return ();
    for my $p (grep { /^\d+$/ } readdir $dh) {
        open my $fh, '<', "/proc/$p/stat" or next;
        my $st = <$fh>;
        close $fh;
        next unless $st && $st =~ /^\d+ \(.*\) (\S) (\d+) /s;
        push @kids, $p if $2 == $ppid && $1 ne 'Z';
    }
    closedir $dh;
    return sort { $a <=> $b } @kids;
}

sub _read_pidfile {
    my $d = read_file_text($PidFile);
    return $d =~ /(\d+)/ ? $1 : undef;
}

# a valgrind server is running with exactly the config %a would generate
sub valgrind_reusable {
    my (%a) = @_;
    return 0 unless $UseValgrind && !$a{must_die} && server_running()
                    && $Server{valgrind} && defined $Server{conf};
    return $Server{conf} eq gen_config(%a);
}

sub server_running {
    return $Server{pid} && $Server{owner} == $$ && _pid_alive($Server{pid});
}

# Start nginx for a config.  Returns a hashref:
#   { ok => 1 }                           running
#   { ok => 0, status => N, stderr => S, error => msg }
# With must_die => 1 a failure to start is the expected outcome (the caller
# judges; a server that did start is stopped again).
sub start_server {
    my (%a) = @_;
    my $conf = gen_config(%a);
    my $name = $a{name} // 'nginx';

    if ($UseHup && !$a{must_die} && server_running()) {
        return reload_server($conf, $name);
    }

    # valgrind: starting nginx costs seconds, so a block whose config is
    # the running one's reuses it (its memcheck report is read at stop)
    if (valgrind_reusable(%a)) {
        return { ok => 1, reloaded => 1 };
    }

    stop_server_quietly() if server_running();
    setup_servroot();
    _write_file($ConfFile, $conf);
    warn "# $name: nginx.conf:\n$conf" if $Verbose;

    my @cmd = ($NginxBinary, '-e', 'logs/error.log', '-p', "$ServRoot/",
               '-c', 'conf/nginx.conf');

    if ($UseValgrind && !$a{must_die}) {
        unlink $ValgrindLog;
        my @vg = ('valgrind', '-q', '--tool=memcheck', '--leak-check=full',
                  '--show-leak-kinds=definite',
                  '--errors-for-leak-kinds=definite',
                  '--error-exitcode=' . valgrind_error_exitcode(),
                  '--num-callers=50',
                  "--log-file=$ValgrindLog");
        push @vg, "--suppressions=$SuppFile" if -f $SuppFile;
        my $pid = fork;
        die "fork failed: $!\n" unless defined $pid;
        if ($pid == 0) {
            open STDIN, '<', '/dev/null';
            open STDOUT, '>', '/dev/null';
            open STDERR, '>', $StderrFile;
            setpgrp(0, 0);
            _default_signals();
            exec @vg, @cmd or POSIX::_exit(127);
        }
        %Server = (pid => $pid, valgrind => 1, owner => $$, conf => $conf);
        my $deadline = time + 60;
        while (time < $deadline) {
            my $r = waitpid($pid, WNOHANG);
            if ($r == $pid) {
                my $st = $?;
                %Server = ();
                return { ok => 0, status => $st >> 8,
                         stderr => read_file_text($StderrFile),
                         error => "nginx under valgrind exited at startup "
                                  . "(status " . ($st >> 8) . ")\n"
                                  . read_file_text($StderrFile)
                                  . read_file_text($ValgrindLog) };
            }
            my $p = _read_pidfile();
            if ($p && $p == $pid && _port_open()) {
                return { ok => 1 };
            }
            sleep 0.1;
        }
        stop_server_quietly();
        return { ok => 0, error => "nginx under valgrind did not start "
                                   . "within 60 s" };
    }

    my $pid = fork;
    die "fork failed: $!\n" unless defined $pid;
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', $StderrFile;
        _default_signals();
        exec @cmd or POSIX::_exit(127);
    }
    waitpid($pid, 0);
    my $st = $?;
    my $stderr = read_file_text($StderrFile);
    if ($st != 0) {
        return { ok => 0, status => $st >> 8, signal => $st & 127,
                 stderr => $stderr,
                 error => "nginx failed to start (status " . ($st >> 8)
                          . "):\n$stderr" };
    }
    # daemon on: the master has daemonized and written its pid file
    my $deadline = time + 10;
    my $mpid;
    while (time < $deadline) {
        $mpid = _read_pidfile();
        last if $mpid && _pid_alive($mpid);
        sleep 0.02;
    }
    unless ($mpid && _pid_alive($mpid)) {
        return { ok => 0, status => 0, stderr => $stderr,
                 error => "nginx did not write a pid file or died at once\n"
                          . read_error_log(0) };
    }
    %Server = (pid => $mpid, valgrind => 0, owner => $$);
    if ($MasterOn || $UseHup) {
        _wait_workers($mpid, [], time + 10);
    }
    return { ok => 1 };
}

# A background job of a non-interactive shell starts with INT and QUIT
# ignored, and exec keeps SIG_IGN: nginx would then miss a QUIT that arrives
# before it installs its handlers.  Give nginx default dispositions.
sub _default_signals {
    $SIG{$_} = 'DEFAULT' for qw(INT QUIT TERM HUP PIPE USR1 USR2 WINCH);
}

sub _port_open {
    my $s = IO::Socket::INET->new(PeerAddr => $ServerAddr,
                                  PeerPort => $ServerPort,
                                  Proto => 'tcp', Timeout => 1);
    return 0 unless $s;
    close $s;
    return 1;
}

sub _wait_workers {
    my ($mpid, $old, $deadline) = @_;
    my %old = map { $_ => 1 } @$old;
    while (time < $deadline) {
        my @kids = _children_of($mpid);
        my @new = grep { !$old{$_} } @kids;
        my @still_old = grep { $old{$_} } @kids;
        return 1 if @new >= 1 && !@still_old;
        sleep 0.02;
    }
    return 0;
}

# SIGHUP the running master with a new config; wait until the new workers
# serve and the old ones are gone.
sub reload_server {
    my ($conf, $name) = @_;
    my $mpid = $Server{pid};
    _write_file($ConfFile, $conf);
    warn "# $name: nginx.conf:\n$conf" if $Verbose;
    my @old = _children_of($mpid);
    my $pos = error_log_size();
    kill 'HUP', $mpid or return { ok => 0, error => "kill HUP $mpid: $!" };
    my $deadline = time + 15;
    my %old = map { $_ => 1 } @old;
    while (time < $deadline) {
        my $log = read_error_log($pos);
        if ($log =~ /^.*\[emerg\].*$/m) {
            return { ok => 0, status => 1, stderr => $log,
                     error => "nginx reload failed:\n$log" };
        }
        if (!_pid_alive($mpid)) {
            %Server = ();
            return { ok => 0, error => "nginx master died on reload:\n$log" };
        }
        my @kids = _children_of($mpid);
        my @new = grep { !$old{$_} } @kids;
        if (@new && !grep { $old{$_} } @kids) {
            return { ok => 1, reloaded => 1 };
        }
        sleep 0.02;
    }
    return { ok => 0, error => "nginx reload: old workers did not exit or "
                              . "new ones did not start within 15 s" };
}

# Stop the server gracefully (QUIT).  Returns a list of problems (strings):
# a timeout, and, under valgrind, the valgrind report.
sub stop_server {
    return () unless $Server{pid} && $Server{owner} == $$;
    my $pid = $Server{pid};
    my $vg = $Server{valgrind};
    my @problems;
    kill 'QUIT', $pid;
    my $deadline = time + ($vg ? 120 : 15);
    my $status;
    my $resend = time + 3;
    while (time < $deadline) {
        if (time > $resend) {
            # startup race: a QUIT sent before nginx had its handlers
            kill 'QUIT', $pid;
            $resend = time + 3;
        }
        if ($vg) {
            my $r = waitpid($pid, WNOHANG);
            if ($r == $pid || $r == -1) { $status = $?; last }
        } elsif (!_pid_alive($pid)) {
            last;
        }
        sleep 0.02;
    }
    if ($vg ? !defined $status : _pid_alive($pid)) {
        push @problems, "nginx (pid $pid) did not exit within "
                        . ($vg ? 120 : 15) . " s after SIGQUIT; killed";
        kill 'KILL', $pid;
        kill 'KILL', $_ for _children_of($pid);
        waitpid($pid, 0) if $vg;
    }
    %Server = ();
    if ($vg) {
        my $report = read_file_text($ValgrindLog);
        if ($report =~ /\S/
            || (defined $status && ($status >> 8) == valgrind_error_exitcode()))
        {
            push @problems, "valgrind reported errors:\n$report";
        }
    }
    return @problems;
}

sub stop_server_quietly {
    my @p = stop_server();
    warn "# $_\n" for @p;
}

sub cleanup {
    return if $Cleaned;
    $Cleaned = 1;
    stop_server_quietly() if $Server{pid} && $Server{owner} == $$;
    remove_tree($ServRoot) if !$NoClean && -d $ServRoot;
}

END {
    # only the process that loaded us; never a forked child
    cleanup() if $Server{owner} && $Server{owner} == $$;
}

# Ctrl-C / kill: perl skips END blocks on a fatal signal, so stop nginx here
for my $sig (qw(INT TERM HUP)) {
    my $n = $sig eq 'INT' ? 130 : $sig eq 'TERM' ? 143 : 129;
    $SIG{$sig} = sub {
        if ($Server{owner} && $Server{owner} == $$) {
            stop_server_quietly();
        }
        exit $n;
    };
}

# --- HTTP client -------------------------------------------------------------

# Send a raw request; read the whole response (until EOF, or until the
# message is complete for keep-alive).  Returns
#   { status, reason, headers => [[k, v], ...], raw_headers, body, error }
sub http_request {
    my (%a) = @_;
    my $raw = $a{raw};
    my $timeout = $a{timeout} // 3;
    my $head = $a{head};
    my $res = { status => undef, headers => [], body => undef,
                raw_headers => '', raw => '' };
    my $deadline = time + $timeout;
    my $sock = IO::Socket::INET->new(PeerAddr => $a{addr} // $ServerAddr,
                                     PeerPort => $a{port} // $ServerPort,
                                     Proto => 'tcp',
                                     Timeout => $timeout);
    unless ($sock) {
        $res->{error} = "cannot connect to $ServerAddr:$ServerPort: $!";
        return $res;
    }
    binmode $sock;
    $sock->blocking(0);
    my $sel = IO::Select->new($sock);
    my $off = 0;
    while ($off < length $raw) {
        my $left = $deadline - time;
        if ($left <= 0 || !$sel->can_write($left)) {
            $res->{error} = 'timeout while sending the request';
            close $sock;
            return _parse_response($res, $head);
        }
        my $n = syswrite($sock, $raw, length($raw) - $off, $off);
        if (!defined $n) {
            next if $!{EAGAIN} || $!{EINTR};
            # the server may answer early (e.g. 413) and close: read it
            last;
        }
        $off += $n;
    }
    my $buf = '';
    while (1) {
        my $left = $deadline - time;
        if ($left <= 0 || !$sel->can_read($left)) {
            $res->{error} = 'timeout while reading the response';
            last;
        }
        my $n = sysread($sock, $buf, 65536, length $buf);
        if (!defined $n) {
            next if $!{EAGAIN} || $!{EINTR};
            $res->{error} = "read error: $!" unless length $buf;
            last;
        }
        last if $n == 0;
        last if _response_complete($buf, $head);
    }
    close $sock;
    $res->{raw} = $buf;
    return _parse_response($res, $head);
}

sub _split_head {
    my ($buf) = @_;
    my $i = index($buf, "\r\n\r\n");
    return if $i < 0;
    return (substr($buf, 0, $i + 2), substr($buf, $i + 4));
}

sub _response_complete {
    my ($buf, $head) = @_;
    my ($h, $body) = _split_head($buf);
    return 0 unless defined $h;
    my ($code) = $h =~ m{^HTTP/\d\.\d\s+(\d+)};
    return 1 if $head || ($code && ($code =~ /^1/ || $code == 204
                                    || $code == 304));
    if ($h =~ /^Transfer-Encoding:\s*chunked\s*$/mi) {
        return _dechunk($body) ? 1 : 0;
    }
    if ($h =~ /^Content-Length:\s*(\d+)\s*$/mi) {
        return length($body) >= $1;
    }
    return 0;    # read until EOF
}

# returns the decoded body, or undef if incomplete
sub _dechunk {
    my ($data) = @_;
    my $out = '';
    while (1) {
        return undef unless $data =~ s/^([0-9a-fA-F]+)[^\r\n]*\r\n//;
        my $len = hex $1;
        if ($len == 0) {
            # trailers until an empty line
            return undef unless $data =~ /^(?:[^\r\n]+\r\n)*\r\n/;
            return $out;
        }
        return undef if length($data) < $len + 2;
        $out .= substr($data, 0, $len);
        $data = substr($data, $len + 2);
    }
}

sub _parse_response {
    my ($res, $head) = @_;
    my $buf = $res->{raw};
    my ($h, $body) = _split_head($buf);
    if (!defined $h) {
        $res->{error} //= length $buf ? 'incomplete response header'
                                      : 'empty response';
        return $res;
    }
    $res->{raw_headers} = $h;
    my @lines = split /\r\n/, $h;
    my $status_line = shift @lines;
    if ($status_line =~ m{^HTTP/\d\.\d\s+(\d+)\s*(.*)$}) {
        $res->{status} = $1;
        $res->{reason} = $2;
    } else {
        $res->{error} //= "bad status line: $status_line";
    }
    for my $l (@lines) {
        if ($l =~ /^([^:\s]+)\s*:\s*(.*?)\s*$/) {
            push @{ $res->{headers} }, [$1, $2];
        }
    }
    my $te = response_header($res, 'Transfer-Encoding');
    if ($te && $te =~ /chunked/i) {
        my $d = _dechunk($body);
        if (defined $d) {
            $body = $d;
        } else {
            $res->{error} //= 'incomplete chunked body';
        }
    } else {
        my $cl = response_header($res, 'Content-Length');
        if (defined $cl && $cl =~ /^\d+$/ && length($body) > $cl) {
            $body = substr($body, 0, $cl);
        }
    }
    $res->{body} = $body;
    return $res;
}

# case-insensitive; several values are joined with ", " (like HTTP::Headers)
sub response_header {
    my ($res, $key) = @_;
    my @v = map { $_->[1] } grep { lc $_->[0] eq lc $key }
            @{ $res->{headers} };
    return @v ? join(', ', @v) : undef;
}

1;
