package FluentAI::Mail;

# A real SMTP server for the suites: scripts/smtp-sink.py (aiosmtpd),
# started and stopped by the test, storing every message it accepts.
#
#   my $sink = start_sink();                  # port server_port() + 1
#   ... POST /auth/forgot-password ...
#   my $m = wait_mail($sink, to => $email);   # parsed, or undef
#   is $m->{subject}, 'Reset your FluentAI password';
#   like $m->{text}, qr{/reset-password\?token=};
#   stop_sink($sink);
#
# A parsed mail: raw (the message as received), envelope (mail_from,
# rcpt_tos), headers (lower-case name => unfolded raw value; repeated
# headers joined by "\n"), subject (RFC 2047 decoded, characters), text
# (the body, transfer-decoded, UTF-8 decoded), links, file.

use strict;
use warnings;

use Exporter 'import';
use Encode ();
use File::Basename qw(dirname);
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP ();
use MIME::Base64 ();
use POSIX ();
use Time::HiRes qw(time sleep);

our @EXPORT = qw(start_sink stop_sink wait_mail mails no_mail_for
                 parse_mail sink_port);

my $TOP = do {
    my $d = dirname(__FILE__);          # t/lib/FluentAI
    "$d/../../..";
};

sub sink_port {
    return $ENV{TEST_NGINX_SMTP_PORT}
        // (Test::Nginx::Util::server_port() + 1);
}

# start_sink(port => N, dir => D, args => [...]): returns the handle once
# the port accepts connections; dies if it does not within 10 s.
sub start_sink {
    my (%o) = @_;
    my $port = $o{port} // sink_port();
    my $dir = $o{dir} // tempdir('fluentai-mail.XXXXXX', TMPDIR => 1,
                                  CLEANUP => 1);
    make_path($dir);
    my @cmd = ('/usr/bin/python3', "$TOP/scripts/smtp-sink.py",
               '--listen', "127.0.0.1:$port", '--dir', $dir, '--quiet',
               @{ $o{args} // [] });
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        open STDOUT, '>', '/dev/null';
        exec @cmd or POSIX::_exit(127);
    }
    my $h = { pid => $pid, port => $port, dir => $dir, args => $o{args} };
    my $deadline = time + 10;
    while (time < $deadline) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port, Timeout => 1);
        if ($s) { close $s; return $h }
        die "smtp-sink exited\n" if waitpid($pid, POSIX::WNOHANG()) == $pid;
        sleep 0.05;
    }
    stop_sink($h);
    die "smtp-sink did not listen on $port\n";
}

sub stop_sink {
    my ($h) = @_;
    return unless $h && $h->{pid};
    kill 'TERM', $h->{pid};
    my $deadline = time + 10;
    while (time < $deadline) {
        last if waitpid($h->{pid}, POSIX::WNOHANG()) == $h->{pid};
        sleep 0.05;
    }
    if (kill 0, $h->{pid}) {
        kill 'KILL', $h->{pid};
        waitpid($h->{pid}, 0);
    }
    delete $h->{pid};
}

# every message stored so far, oldest first
sub mails {
    my ($h) = @_;
    opendir my $dh, $h->{dir} or return ();
    my @f = sort grep { /\.eml\z/ } readdir $dh;
    closedir $dh;
    return map { parse_mail("$h->{dir}/$_") } @f;
}

# wait_mail($h, to => ADDR, timeout => S, seen => N): the first message
# for ADDR (envelope recipient) beyond the first N for it
sub wait_mail {
    my ($h, %o) = @_;
    my $timeout = $o{timeout} // 10;
    my $seen = $o{seen} // 0;
    my $deadline = time + $timeout;
    while (1) {
        my @m = grep {
            !defined $o{to} || grep { lc $_ eq lc $o{to} }
                                    @{ $_->{envelope}{rcpt_tos} // [] }
        } mails($h);
        return $m[$seen] if @m > $seen;
        return undef if time >= $deadline;
        sleep 0.1;
    }
}

# true if no message for ADDR arrives within S seconds
sub no_mail_for {
    my ($h, $to, $s) = @_;
    return !defined wait_mail($h, to => $to, timeout => $s);
}

sub parse_mail {
    my ($file) = @_;
    open my $fh, '<:raw', $file or return undef;
    local $/;
    my $raw = <$fh>;
    close $fh;
    my $env = {};
    (my $jf = $file) =~ s/\.eml\z/.json/;
    if (open my $jh, '<', $jf) {
        $env = eval { JSON::PP->new->decode(<$jh>) } // {};
        close $jh;
    }
    my ($head, $body) = split /\r?\n\r?\n/, $raw, 2;
    $body //= '';
    my %h;
    my @lines = split /\r?\n/, $head;
    my @fields;
    for my $l (@lines) {
        if ($l =~ /^[ \t]/ && @fields) { $fields[-1] .= "\r\n$l" }
        else { push @fields, $l }
    }
    for my $f (@fields) {
        my ($k, $v) = $f =~ /^([^:]+):[ \t]*(.*)\z/s or next;
        $k = lc $k;
        $h{$k} = exists $h{$k} ? "$h{$k}\n$v" : $v;
    }
    my $subject = $h{subject} // '';
    (my $unfolded = $subject) =~ s/\r\n[ \t]//g;
    my $dsubj = eval { Encode::decode('MIME-Header', $subject) }
                // $unfolded;
    my $text = $body;
    if (lc($h{'content-transfer-encoding'} // '') eq 'base64') {
        $text = MIME::Base64::decode_base64($body);
    }
    my $utext = eval { Encode::decode('UTF-8', $text, Encode::FB_CROAK()) };
    my @links = defined $utext ? ($utext =~ m{(https?://\S+)}g) : ();
    return {
        file => $file, raw => $raw, envelope => $env, headers => \%h,
        head => $head, body => $body, subject => $dsubj,
        text => $utext, text_bytes => $text, links => \@links,
        to => eval { Encode::decode('MIME-Header', $h{to} // '') },
        from => eval { Encode::decode('MIME-Header', $h{from} // '') },
    };
}

1;
