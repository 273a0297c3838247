#!/usr/bin/perl
# Signs access tokens the way the module does (HS256, header
# {"alg":"HS256","typ":"JWT","kid":<first 8 bytes of SHA-256(secret), hex>},
# claims sub, sid, type "access", iat, exp, jti), for sessions that exist
# in the database, so the profile load needs no login per user.
#
#   bench/mint.pl SECRET_FILE TTL_SECONDS < "session_id user_id" lines
#
# Prints one token per line.  The secret is read as the module reads it
# (trailing newlines dropped).
use strict;
use warnings;
use Digest::SHA qw(sha256 sha256_hex hmac_sha256);
use MIME::Base64 qw(encode_base64);

my ($secret_file, $ttl) = @ARGV;
die "usage: $0 SECRET_FILE TTL < sessions\n" unless $ttl;
open my $fh, '<:raw', $secret_file or die "$secret_file: $!\n";
my $secret = do { local $/; <$fh> };
close $fh;
$secret =~ s/[\r\n]+\z//;

sub b64url {
    my $s = encode_base64($_[0], '');
    $s =~ tr{+/}{-_};
    $s =~ s/=+\z//;
    return $s;
}

my $kid = substr(sha256_hex($secret), 0, 16);
my $hdr = b64url(qq({"alg":"HS256","typ":"JWT","kid":"$kid"}));
my $iat = time;
my $exp = $iat + $ttl;
my $n = 0;

open my $rnd, '<:raw', '/dev/urandom' or die "/dev/urandom: $!\n";

while (my $line = <STDIN>) {
    my ($sid, $uid) = split ' ', $line;
    next unless defined $uid;
    read($rnd, my $r, 16) == 16 or die "short read from /dev/urandom\n";
    my $jti = b64url($r);
    my $pld = b64url(qq({"sub":"$uid","sid":"$sid","type":"access",)
                     . qq("iat":$iat,"exp":$exp,"jti":"$jti"}));
    my $sig = b64url(hmac_sha256("$hdr.$pld", $secret));
    print "$hdr.$pld.$sig\n";
    $n++;
}
die "$0: no sessions on stdin\n" unless $n;
