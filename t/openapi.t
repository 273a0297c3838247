# docs/openapi.json against reality.
#
# 1. The document against the sources: every endpoint name of the module's
#    endpoint table (ngx_http_fluentai_module.c) is an operation, at the
#    path nginx.conf.example mounts it and with the methods the table
#    gives it (its Allow header); every error code the
#    module can emit (the code table in src/ngx_http_fluentai_http.c and
#    every literal passed to ngx_http_fluentai_fail in src/*.c) is in
#    the document with the module's status and message; every 422 detail
#    type is in its enum; every answer of fluentai_error_page (its status
#    table) is a valid, documented Error, and nginx.conf.example sends
#    nginx's own errors to it.
# 2. Live responses: a real flow through every endpoint (success and
#    errors, then a server whose database is down), each response
#    validated against the schema of its documented status, its `code`
#    against the response's x-fluentai-codes and its headers against the
#    documented ones; request bodies that succeeded against the request
#    schema.  Every documented status of every operation is seen live,
#    except 429 (nginx's limit_req, t/deploy.t) and 500.
#
# The JSON Schema validator (the subset of 2020-12 the document uses) is
# below; it refuses keywords it does not know, so a schema it cannot check
# fails the test instead of passing silently.

use strict;
use warnings;

use Test::More;
use FluentAI::Test qw(:DEFAULT bearer jwt);
use FluentAI::Mail;
use B ();
use Cwd ();
use Digest::SHA qw(hmac_sha256);
use JSON::PP ();
use MIME::Base64 qw(encode_base64url);

my $TOP = Cwd::getcwd();
my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;

sub slurp {
    my ($f) = @_;
    open my $fh, '<', $f or die "$f: $!\n";
    local $/;
    my $d = <$fh>;
    close $fh;
    return $d;
}

# --- a small JSON Schema validator --------------------------------------------

package OpenAPI::Validator {
    use JSON::PP ();

    my %CHECKED = map { $_ => 1 } qw(
        type enum const required properties additionalProperties
        patternProperties items $ref oneOf anyOf allOf not minLength
        maxLength pattern format minimum maximum exclusiveMinimum
        exclusiveMaximum minItems maxItems uniqueItems minProperties
        maxProperties
    );
    my %ANNOTATION = map { $_ => 1 } qw(
        description title examples example default deprecated readOnly
        writeOnly $comment externalDocs discriminator xml
    );
    my %FORMAT = (
        uuid => qr/\A[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\z/,
        email => qr/\A[^\s@]+@[^\s@]+\.[^\s@]+\z/,
        'date-time' => qr/\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:[zZ]|[+-]\d\d:\d\d)\z/,
        uri => qr/\A[A-Za-z][A-Za-z0-9+.-]*:\S*\z/,
        password => qr/./s,          # annotation only (but a string)
    );
    my $Canon = JSON::PP->new->canonical->allow_nonref;

    sub new {
        my ($class, $doc) = @_;
        return bless { doc => $doc }, $class;
    }

    # the JSON type of a freshly decoded value (numbers and strings are
    # told apart by the scalar's flags, as JSON::PP does when encoding)
    sub json_type {
        my ($ref) = @_;            # a reference to the value
        my $v = $$ref;
        return 'null' unless defined $v;
        if (ref $v) {
            return 'boolean' if JSON::PP::is_bool($v);
            return 'object' if ref $v eq 'HASH';
            return 'array' if ref $v eq 'ARRAY';
            return 'unknown';
        }
        my $f = B::svref_2object($ref)->FLAGS;
        if (($f & (B::SVp_IOK() | B::SVp_NOK())) && !($f & B::SVp_POK())) {
            return ($f & B::SVp_IOK()) || $v == int($v) ? 'integer' : 'number';
        }
        return 'string';
    }

    sub resolve {
        my ($self, $ref) = @_;
        die "unsupported \$ref $ref (only local JSON pointers)\n"
            unless $ref =~ m{\A#(/.*)?\z};
        my $node = $self->{doc};
        for my $tok (grep { length } split m{/}, $1 // '') {
            $tok =~ s/~1/\//g;
            $tok =~ s/~0/~/g;
            if (ref $node eq 'HASH' && exists $node->{$tok}) {
                $node = $node->{$tok};
            } elsif (ref $node eq 'ARRAY' && $tok =~ /\A\d+\z/
                     && $tok < @$node) {
                $node = $node->[$tok];
            } else {
                die "unresolvable \$ref $ref\n";
            }
        }
        return $node;
    }

    sub _eq {
        my ($a, $b) = @_;
        return $Canon->encode($a) eq $Canon->encode($b);
    }

    # errors($schema, \$data, $path) -> list of messages (empty: valid)
    sub errors {
        my ($self, $s, $dref, $p) = @_;
        $p //= '$';
        if (JSON::PP::is_bool($s)) {
            return $s ? () : ("$p: no value is allowed here");
        }
        die "$p: schema is not an object\n" unless ref $s eq 'HASH';

        for my $k (keys %$s) {
            next if $CHECKED{$k} || $ANNOTATION{$k} || $k =~ /^x-/;
            die "validator: unsupported schema keyword '$k' at $p\n";
        }

        my @e;
        my $d = $$dref;
        my $t = json_type($dref);

        if (defined(my $r = $s->{'$ref'})) {
            push @e, $self->errors($self->resolve($r), $dref, $p);
        }
        if (exists $s->{type}) {
            my @types = ref $s->{type} eq 'ARRAY' ? @{ $s->{type} }
                                                   : ($s->{type});
            my $ok = grep {
                $_ eq $t || ($_ eq 'number' && $t eq 'integer')
            } @types;
            return (@e, "$p: expected " . join('|', @types) . ", got $t")
                unless $ok;
        }
        if (exists $s->{const} && !_eq($s->{const}, $d)) {
            push @e, "$p: expected the constant "
                     . $Canon->encode($s->{const});
        }
        if (exists $s->{enum} && !grep { _eq($_, $d) } @{ $s->{enum} }) {
            push @e, "$p: " . $Canon->encode($d) . " is not one of "
                     . $Canon->encode($s->{enum});
        }
        for my $kw (qw(allOf anyOf oneOf)) {
            next unless $s->{$kw};
            my @sub = map { [ $self->errors($_, $dref, $p) ] } @{ $s->{$kw} };
            my $valid = grep { !@$_ } @sub;
            if ($kw eq 'allOf' && $valid != @sub) {
                push @e, map { @$_ } @sub;
            } elsif ($kw eq 'anyOf' && !$valid) {
                push @e, "$p: matches none of anyOf: "
                         . join('; ', map { @$_ } @sub);
            } elsif ($kw eq 'oneOf' && $valid != 1) {
                push @e, "$p: matches $valid of oneOf, not exactly 1"
                         . ($valid ? '' : ': ' . join('; ', map { @$_ } @sub));
            }
        }
        if ($s->{not} && !$self->errors($s->{not}, $dref, $p)) {
            push @e, "$p: matches a 'not' schema";
        }

        if ($t eq 'string') {
            my $len = length $d;        # code points (decoded text)
            push @e, "$p: shorter than $s->{minLength}"
                if defined $s->{minLength} && $len < $s->{minLength};
            push @e, "$p: longer than $s->{maxLength}"
                if defined $s->{maxLength} && $len > $s->{maxLength};
            if (defined $s->{pattern}) {
                my $re = $s->{pattern};
                push @e, "$p: does not match /$re/" unless $d =~ /$re/;
            }
            if (defined $s->{format}) {
                my $re = $FORMAT{ $s->{format} }
                    // die "validator: unsupported format '$s->{format}'\n";
                push @e, "$p: not a valid $s->{format}" unless $d =~ $re;
            }
        }
        if ($t eq 'integer' || $t eq 'number') {
            push @e, "$p: below $s->{minimum}"
                if defined $s->{minimum} && $d < $s->{minimum};
            push @e, "$p: above $s->{maximum}"
                if defined $s->{maximum} && $d > $s->{maximum};
            push @e, "$p: not above $s->{exclusiveMinimum}"
                if defined $s->{exclusiveMinimum}
                   && $d <= $s->{exclusiveMinimum};
            push @e, "$p: not below $s->{exclusiveMaximum}"
                if defined $s->{exclusiveMaximum}
                   && $d >= $s->{exclusiveMaximum};
        }
        if ($t eq 'array') {
            push @e, "$p: fewer than $s->{minItems} items"
                if defined $s->{minItems} && @$d < $s->{minItems};
            push @e, "$p: more than $s->{maxItems} items"
                if defined $s->{maxItems} && @$d > $s->{maxItems};
            if ($s->{uniqueItems} && JSON::PP::is_bool($s->{uniqueItems})
                && $s->{uniqueItems})
            {
                my %seen;
                push @e, "$p: items are not unique"
                    if grep { $seen{ $Canon->encode($_) }++ } @$d;
            }
            if (exists $s->{items}) {
                for my $i (0 .. $#$d) {
                    push @e, $self->errors($s->{items}, \$d->[$i], "$p\[$i]");
                }
            }
        }
        if ($t eq 'object') {
            my $n = keys %$d;
            push @e, "$p: fewer than $s->{minProperties} properties"
                if defined $s->{minProperties} && $n < $s->{minProperties};
            push @e, "$p: more than $s->{maxProperties} properties"
                if defined $s->{maxProperties} && $n > $s->{maxProperties};
            for my $r (@{ $s->{required} // [] }) {
                push @e, "$p: required property '$r' is missing"
                    unless exists $d->{$r};
            }
            my $props = $s->{properties} // {};
            my $pprops = $s->{patternProperties} // {};
            for my $k (sort keys %$d) {
                my $matched = 0;
                if (exists $props->{$k}) {
                    $matched = 1;
                    push @e, $self->errors($props->{$k}, \$d->{$k}, "$p.$k");
                }
                for my $re (sort keys %$pprops) {
                    next unless $k =~ /$re/;
                    $matched = 1;
                    push @e, $self->errors($pprops->{$re}, \$d->{$k},
                                           "$p.$k");
                }
                if (!$matched && exists $s->{additionalProperties}) {
                    push @e, $self->errors($s->{additionalProperties},
                                           \$d->{$k}, "$p.$k");
                }
            }
        }
        return @e;
    }
}

package main;

# FLUENTAI_OPENAPI_DOC: check another copy (e.g. a draft) instead
my $DOC = $JSON->decode(slurp($ENV{FLUENTAI_OPENAPI_DOC}
                              // "$TOP/docs/openapi.json"));
my $V = OpenAPI::Validator->new($DOC);

sub valid {
    my ($schema, $text) = @_;
    my $data = $JSON->decode($text);       # fresh: untouched flags
    return [ $V->errors($schema, \$data) ];
}

# --- the validator itself: it must be able to say no -----------------------

subtest 'validator self-test' => sub {
    my @cases = (
        [ { type => 'string' }, '"a"', 1 ],
        [ { type => 'string' }, '1', 0 ],
        [ { type => 'integer' }, '1', 1 ],
        [ { type => 'integer' }, '1.5', 0 ],
        [ { type => 'number' }, '1.5', 1 ],
        [ { type => 'integer' }, '"1"', 0 ],
        [ { type => [qw(string null)] }, 'null', 1 ],
        [ { type => [qw(string null)] }, '"x"', 1 ],
        [ { type => [qw(string null)] }, '0', 0 ],
        [ { type => 'boolean' }, 'true', 1 ],
        [ { type => 'boolean' }, '1', 0 ],
        [ { const => JSON::PP::true }, 'true', 1 ],
        [ { const => JSON::PP::true }, 'false', 0 ],
        [ { const => 'bearer' }, '"Bearer"', 0 ],
        [ { enum => [qw(a b)] }, '"b"', 1 ],
        [ { enum => [qw(a b)] }, '"c"', 0 ],
        [ { type => 'object', required => ['a'] }, '{"b":1}', 0 ],
        [ { type => 'object', properties => { a => { type => 'string' } },
            additionalProperties => JSON::PP::false }, '{"a":"x"}', 1 ],
        [ { type => 'object', properties => { a => { type => 'string' } },
            additionalProperties => JSON::PP::false }, '{"a":"x","b":1}', 0 ],
        [ { type => 'object', properties => { a => { type => 'string' } } },
          '{"a":1}', 0 ],
        [ { type => 'array', items => { type => 'integer' } }, '[1,2]', 1 ],
        [ { type => 'array', items => { type => 'integer' } }, '[1,"2"]', 0 ],
        [ { minLength => 2, maxLength => 3 }, '"ab"', 1 ],
        [ { minLength => 2, maxLength => 3 }, '"a"', 0 ],
        [ { minLength => 2, maxLength => 3 }, '"abcd"', 0 ],
        # code points, not bytes: three Cyrillic letters are 6 bytes
        [ { maxLength => 3 }, qq{"\xd0\x90\xd0\xbd\xd1\x8f"}, 1 ],
        [ { pattern => '^[a-z]{2}$' }, '"ab"', 1 ],
        [ { pattern => '^[a-z]{2}$' }, '"abc"', 0 ],
        [ { format => 'uuid' }, '"7c1d2e4a-5b6f-4a8b-9c0d-1e2f3a4b5c6d"', 1 ],
        [ { format => 'uuid' }, '"7c1d2e4a-5b6f-4a8b-9c0d"', 0 ],
        [ { oneOf => [ { type => 'string' }, { type => 'null' } ] },
          'null', 1 ],
        [ { oneOf => [ { type => 'string' }, { minLength => 1 } ] },
          '"x"', 0 ],          # both match
        [ { anyOf => [ { type => 'string' }, { type => 'null' } ] },
          '1', 0 ],
        [ { allOf => [ { required => ['a'] }, { required => ['b'] } ] },
          '{"a":1}', 0 ],
        [ { '$ref' => '#/components/schemas/User' },
          '{"id":"7c1d2e4a-5b6f-4a8b-9c0d-1e2f3a4b5c6d","email":"a@b.co",'
          . '"name":"A","avatar":null,"bio":null,'
          . '"is_email_verified":false}', 1 ],
        [ { '$ref' => '#/components/schemas/User' },
          '{"id":"nope","email":"a@b.co","name":"A","avatar":null,'
          . '"bio":null}', 0 ],
        [ { '$ref' => '#/components/schemas/User' },
          '{"id":"7c1d2e4a-5b6f-4a8b-9c0d-1e2f3a4b5c6d","email":"a@b.co",'
          . '"name":"A","bio":null}', 0 ],
        [ { '$ref' => '#/components/schemas/Error' },
          '{"error":"http_error","code":"no_such_code","message":"x",'
          . '"status_code":400}', 0 ],
        [ { minimum => 1 }, '0', 0 ],
        [ { maxProperties => 0 }, '{}', 1 ],
        [ { maxProperties => 0 }, '{"a":1}', 0 ],
    );
    for my $c (@cases) {
        my ($schema, $text, $want) = @$c;
        my $e = valid($schema, $text);
        is !@$e ? 1 : 0, $want,
           $JSON->encode($schema) . " vs $text: "
           . ($want ? 'valid' : 'invalid');
    }
    ok !eval { valid({ type => 'string', foo => 1 }, '"x"'); 1 }
       && $@ =~ /unsupported schema keyword 'foo'/,
       'an unknown keyword is refused, not ignored';
};

# --- the document against the sources -----------------------------------------

my $MOD_C  = slurp("$TOP/ngx_http_fluentai_module.c");
my $HTTP_C = slurp("$TOP/src/ngx_http_fluentai_http.c");
my $EXAMPLE = slurp("$TOP/nginx.conf.example");

# the endpoint table: names in order, and the Allow header each gets (the
# module makes it from the methods: GET, HEAD, POST, PUT, DELETE, then
# OPTIONS)
my ($ep_tbl) = $MOD_C =~ /ngx_http_fluentai_endpoints\[\]\s*=\s*\{(.*?)\n\};/s;
my (@ENDPOINTS, @ALLOW);
while (($ep_tbl // '') =~ /\{\s*ngx_string\("(\w+)"\)\s*,\s*([A-Z_|]+)\s*,/g) {
    my ($name, $m) = ($1, $2);
    my %has = map { s/^NGX_HTTP_//r => 1 } split /\|/, $m;
    push @ENDPOINTS, $name;
    push @ALLOW, join ', ', (grep { $has{$_} } qw(GET HEAD POST PUT DELETE)),
                            'OPTIONS';
}

# code -> message
my ($msg_tbl) = $HTTP_C =~ /ngx_http_fluentai_messages\[\]\s*=\s*\{(.*?)\n\};/s;
(my $flat = $msg_tbl // '') =~ s/"\s*\n\s*"//g;     # joined literals
my %MESSAGE = $flat =~ /\{\s*"([a-z_]+)",\s*"((?:[^"\\]|\\.)*)"\s*\}/g;

# codes the module emits: literal arguments, with their status
my %STATUS_OF = (
    NGX_HTTP_BAD_REQUEST => 400, NGX_HTTP_UNAUTHORIZED => 401,
    NGX_HTTP_FORBIDDEN => 403, NGX_HTTP_NOT_FOUND => 404,
    NGX_HTTP_NOT_ALLOWED => 405, NGX_HTTP_CONFLICT => 409,
    NGX_HTTP_REQUEST_ENTITY_TOO_LARGE => 413,
    NGX_HTTP_UNSUPPORTED_MEDIA_TYPE => 415,
    NGX_HTTP_TOO_MANY_REQUESTS => 429,
    NGX_HTTP_INTERNAL_SERVER_ERROR => 500,
    NGX_HTTP_SERVICE_UNAVAILABLE => 503,
);
# and the module's own status constants (e.g. 422, which nginx lacks)
{
    my $h = slurp("$TOP/src/ngx_http_fluentai.h");
    $STATUS_OF{$1} = $2
        while $h =~ /^#define\s+(NGX_HTTP_FLUENTAI_\w+)\s+(\d{3})\s*$/mg;
}
my %EMITTED;     # code -> { status => 1 }
my @DETAIL_TYPES;
for my $f (glob("$TOP/src/*.c")) {
    my $src = slurp($f);
    while ($src =~ /ngx_http_fluentai_fail\(\s*r\s*,\s*(\w+)\s*,\s*"([a-z_]+)"/g) {
        my ($st, $code) = ($1, $2);
        $st = $STATUS_OF{$st} // $st;
        $EMITTED{$code}{$st} = 1;
    }
    # the content handler's refusals: *code = "..."; return STATUS;
    while ($src =~ /\*code\s*=\s*"([a-z_]+)";\s*return\s+(\w+);/g) {
        $EMITTED{$1}{ $STATUS_OF{$2} // $2 } = 1;
    }
    push @DETAIL_TYPES, $src =~ /"((?:value|type)_error\.[a-z_.]+)"/g;
}
# the bearer check's codes reach fail() through a variable
my ($BEARER_C) = slurp("$TOP/src/ngx_http_fluentai_session.c")
    =~ /^(ngx_http_fluentai_bearer\(.*?^\})/ms;
$EMITTED{$_}{401} = 1 for ($BEARER_C // '') =~ /return\s+"([a-z_]+)"/g;

my %ops;         # endpoint name -> [ [path, method, op], ... ]
for my $path (sort keys %{ $DOC->{paths} }) {
    for my $m (sort keys %{ $DOC->{paths}{$path} }) {
        my $op = $DOC->{paths}{$path}{$m};
        next unless ref $op eq 'HASH' && $op->{responses};
        push @{ $ops{ $op->{'x-fluentai-endpoint'} // '' } },
             [ $path, uc $m, $op ];
    }
}

# the paths nginx.conf.example mounts the endpoints at; a prefix location
# ("^~ /auth/sessions/") serves "/auth/sessions/{id}"
my %EXAMPLE_PATH;
while ($EXAMPLE =~ /location\s*(=|\^~)\s*(\S+)\s*\{[^}]*?fluentai_endpoint\s+(\w+)\s*;/g) {
    $EXAMPLE_PATH{$3} = $1 eq '=' ? $2 : "$2\{id}";
}

# the documented path of a live one: "/auth/sessions/<uuid>" is
# "/auth/sessions/{id}"
sub doc_path {
    my ($p) = @_;
    return $p if $DOC->{paths}{$p};
    for my $t (keys %{ $DOC->{paths} }) {
        (my $re = quotemeta $t) =~ s/\\\{\w+\\\}/[^\/]+/g;
        return $t if $p =~ /^$re\z/;
    }
    return $p;
}

subtest 'document: basics' => sub {
    like $DOC->{openapi}, qr/^3\.1\.\d+$/, 'OpenAPI 3.1';
    ok $DOC->{info}{title} && $DOC->{info}{version}, 'info.title, info.version';
    ok $DOC->{components}{schemas}{Error}, 'an Error schema';
    # every $ref in the document resolves
    my @refs;
    my $walk;
    $walk = sub {
        my ($n) = @_;
        if (ref $n eq 'HASH') {
            push @refs, $n->{'$ref'} if defined $n->{'$ref'} && !ref $n->{'$ref'};
            $walk->($_) for values %$n;
        } elsif (ref $n eq 'ARRAY') {
            $walk->($_) for @$n;
        }
    };
    $walk->($DOC);
    my @bad = grep { !eval { $V->resolve($_); 1 } } @refs;
    ok @refs > 10 && !@bad, scalar(@refs) . ' $refs, all resolve'
        or diag "unresolvable: @bad";
    # every example in components/schemas validates against its schema
    for my $name (sort keys %{ $DOC->{components}{schemas} }) {
        my $s = $DOC->{components}{schemas}{$name};
        next unless exists $s->{example};
        my $e = valid($s, $JSON->encode($s->{example}));
        ok !@$e, "schema $name: its example validates" or diag explain $e;
    }
};

subtest 'document: every endpoint, at its path, with its methods' => sub {
    ok @ENDPOINTS >= 8, 'module endpoint table parsed: @ENDPOINTS'
        or return;
    is scalar(@ALLOW), scalar(@ENDPOINTS),
       'endpoint table parsed: one Allow string per endpoint';
    for my $i (0 .. $#ENDPOINTS) {
        my $name = $ENDPOINTS[$i];
        my $list = $ops{$name};
        ok $list && @$list, "endpoint '$name' is documented" or next;
        my %paths = map { $_->[0] => 1 } @$list;
        is join(' ', sort keys %paths), $EXAMPLE_PATH{$name} // '(none)',
           "'$name': the document's path is nginx.conf.example's";
        my %m = map { $_->[1] => 1 } @$list;
        $m{HEAD} = 1 if $m{GET};
        $m{OPTIONS} = 1;
        my %allow = map { $_ => 1 } split /,\s*/, $ALLOW[$i] // '';
        is join(',', sort keys %m), join(',', sort keys %allow),
           "'$name': documented methods (+HEAD, OPTIONS) = the module's "
           . "Allow ($ALLOW[$i])";
        for my $o (@$list) {
            my $r405 = $o->[2]{responses}{405} or next;
            is $r405->{headers}{Allow}{schema}{const}, $ALLOW[$i],
               "'$name' $o->[1]: the documented 405 Allow header";
        }
        ok((grep { $_->[2]{responses}{200} } @$list),
           "'$name': a 200 response is documented");
    }
    my %known = map { $_ => 1 } @ENDPOINTS;
    my @extra = grep { length && !$known{$_} } keys %ops;
    ok !@extra, 'no documented operation names an unknown endpoint'
        or diag "@extra";
    ok !exists $ops{''}, 'every operation has x-fluentai-endpoint';
};

subtest 'document: every error code the module emits' => sub {
    ok keys(%MESSAGE) >= 15, scalar(keys %MESSAGE)
       . ' codes in the module\'s code table' or return;
    ok keys(%EMITTED) >= 12, scalar(keys %EMITTED)
       . ' codes passed to fail/send_error' or return;
    my %enum = map { $_ => 1 } @{ $DOC->{components}{schemas}{Error}
                                       {properties}{code}{enum} // [] };
    my $statuses = $DOC->{'x-fluentai-error-codes'} // {};
    my $messages = $DOC->{'x-fluentai-error-messages'} // {};

    # where each code is listed, by status
    my %listed;
    for my $list (values %ops) {
        for my $o (@$list) {
            my $resp = $o->[2]{responses};
            for my $st (keys %$resp) {
                $listed{$_}{$st} = 1 for @{ $resp->{$st}{'x-fluentai-codes'} // [] };
            }
        }
    }

    for my $code (sort(keys %MESSAGE), sort(keys %EMITTED)) {
        ok $enum{$code}, "'$code' is in Error.code's enum";
        is $messages->{$code}, $MESSAGE{$code},
           "'$code': the documented message is the module's";
    }
    for my $code (sort keys %EMITTED) {
        ok exists $MESSAGE{$code}, "'$code' has a message in the code table";
        for my $st (sort keys %{ $EMITTED{$code} }) {
            is $statuses->{$code}, $st,
               "'$code': x-fluentai-error-codes says $st, as the module";
            ok $listed{$code}{$st},
               "'$code' is listed in some operation's $st response";
        }
    }
    my %types = map { $_ => 1 } @{ $DOC->{components}{schemas}
                                   {ValidationDetail}{properties}{type}{enum} // [] };
    my %dt = map { $_ => 1 } @DETAIL_TYPES;
    ok keys(%dt) >= 8, scalar(keys %dt) . ' 422 detail types in src';
    for my $t (sort keys %dt) {
        ok $types{$t}, "422 detail type '$t' is in ValidationDetail.type";
    }
};

subtest 'fluentai_error_page: every answer is a documented Error' => sub {
    my $src = slurp("$TOP/src/ngx_http_fluentai_error_page.c");
    my ($tbl) = $src =~ /ngx_http_fluentai_error_maps\[\]\s*=\s*\{(.*?)\n\};/s;
    my %num = (%STATUS_OF,
               NGX_HTTP_FORBIDDEN => 403, NGX_HTTP_NOT_FOUND => 404,
               NGX_HTTP_REQUEST_URI_TOO_LARGE => 414,
               NGX_HTTP_REQUEST_HEADER_TOO_LARGE => 494,
               NGX_HTTP_BAD_GATEWAY => 502, NGX_HTTP_GATEWAY_TIME_OUT => 504);
    $num{$1} = $2 while $src =~ /^#define\s+(NGX_HTTP_FLUENTAI_\w+)\s+(\d{3})\s*$/mg;
    my @rows = ($tbl // '') =~ /\{\s*(\w+),\s*(\w+),\s*"([a-z_]+)"\s*\}/g;
    ok @rows >= 36, @rows / 3 . ' rows in the error_page table' or return;
    my $messages = $DOC->{'x-fluentai-error-messages'} // {};
    my $statuses = $DOC->{'x-fluentai-error-codes'} // {};
    my $err = $DOC->{components}{schemas}{Error};
    my %answered;
    while (my ($from, $to, $code) = splice @rows, 0, 3) {
        my ($f, $st) = ($num{$from}, $num{$to});
        ok $f && $st, "$from -> $to: known statuses" or next;
        my $category = $st == 429 ? 'rate_limited'
                     : $st == 500 ? 'internal_server_error'
                     : $st =~ /^50[234]$/ ? 'service_unavailable'
                     : 'http_error';
        my $body = $JSON->encode({ error => $category, code => $code,
                                   message => $MESSAGE{$code} // '',
                                   status_code => $st + 0 });
        my $e = valid($err, $body);
        ok !@$e, "$f answered $st '$code': a valid Error" or diag explain $e;
        is $messages->{$code}, $MESSAGE{$code},
           "'$code': the documented message is the module's";
        ok $statuses->{$code} == $st
           || ($code eq 'service_unavailable' && $statuses->{$code} == 503),
           "'$code': x-fluentai-error-codes says $st";
        $answered{$f} = 1;
    }
    ok exists $MESSAGE{http_error}, "the fallback 'http_error' has a message";
    # nginx.conf.example sends these to a fluentai_error_page location
    my %target;
    while ($EXAMPLE =~ /^\s*location\s+(?:=\s*)?(\S+)\s*\{([^}]*)\}/mg) {
        my ($loc, $body) = ($1, $2);
        $target{$loc} = 1 if $body =~ /^\s*fluentai_error_page\b/m;
    }
    my %mapped;
    while ($EXAMPLE =~ /^\s*error_page\s+([\d\s]+?)\s+(?:=\d+\s+)?(\S+);/mg) {
        my ($codes, $to) = ($1, $2);
        next unless $target{$to};
        $mapped{$_} = 1 for split /\s+/, $codes;
    }
    for my $st (qw(400 403 404 405 413 414 429 494 500 502 503 504)) {
        ok $mapped{$st} && $answered{$st},
           "nginx.conf.example sends $st to fluentai_error_page, which has a code for it";
    }
    unlike $EXAMPLE, qr/^\s*return\s+\d{3}\s+'\{/m,
           'no hand-written JSON error bodies left in nginx.conf.example';
};

# --- live ---------------------------------------------------------------------

my %SEEN;          # "path METHOD" -> { status => 1 }
my %CODES_SEEN;

sub header_ok {
    my ($name, $hname, $hdef, $value) = @_;
    $hdef = $V->resolve($hdef->{'$ref'}) if $hdef->{'$ref'};
    my $s = $hdef->{schema} or return;
    if (!defined $value) {
        ok !$hdef->{required}, "$name: header $hname present" ;
        return;
    }
    my $json = ($s->{type} // '') eq 'integer' && $value =~ /^-?\d+$/
             ? $value : $JSON->encode("$value");
    my $e = valid($s, $json);
    ok !@$e, "$name: header $hname: $value" or diag explain $e;
}

# check one live response against the document
sub check {
    my ($name, $method, $path, $r, %o) = @_;
    (my $p = $path) =~ s/\?.*//;
    $p = doc_path($p);
    my $item = $DOC->{paths}{$p};
    ok $item, "$name: $p is documented" or return;
    my $op = $item->{ $method eq 'HEAD' ? 'get' : lc $method };
    my $resp = $op && $op->{responses}{ $r->{status} };
    if (!$resp && $r->{status} == 405) {
        # a method the path does not serve: any operation's 405
        ($op) = grep { ref $_ eq 'HASH' && $_->{responses}{405} }
                map { $item->{$_} } sort keys %$item;
        $resp = $op && $op->{responses}{405};
    }
    ok $resp, "$name: $method $p $r->{status} is documented"
        or return diag($r->{body});
    $resp = $V->resolve($resp->{'$ref'}) if $resp->{'$ref'};
    my $key = "$p " . ($method eq 'HEAD' ? 'GET' : $method);
    if ($r->{status} == 405) {
        # the path's answer to any method it does not serve
        $SEEN{"$p " . uc $_}{405} = 1 for grep {
            ref $item->{$_} eq 'HASH' && $item->{$_}{responses}{405}
        } keys %$item;
        $key = "$p (methods it does not serve)";
    }
    $SEEN{$key}{ $r->{status} } = 1;

    for my $h (sort keys %{ $resp->{headers} // {} }) {
        header_ok($name, $h, $resp->{headers}{$h}, $r->{headers}{ lc $h });
    }
    if ($method eq 'HEAD') {
        is $r->{body}, '', "$name: HEAD has no body";
        return;
    }
    my ($text) = grep { m{^text/plain} } keys %{ $resp->{content} // {} };
    if ($text) {
        # the metrics: Prometheus text, checked by t/metrics.t
        (my $type = $text) =~ s/;.*//;
        like $r->{headers}{'content-type'} // '', qr{^\Q$type\E},
             "$name: Content-Type $type";
        return;
    }
    my $media = $resp->{content}{'application/json'};
    ok $media, "$name: a JSON body is documented" or return;
    like $r->{headers}{'content-type'} // '', qr{^application/json},
         "$name: Content-Type application/json";
    my $e = eval { valid($media->{schema}, $r->{body}) }
            // ["body is not JSON: $@"];
    ok !@$e, "$name: body matches the $r->{status} schema"
        or diag explain { errors => $e, body => $r->{body} };
    my $j = json_decode($r->{body});
    if (ref $j eq 'HASH' && defined $j->{code} && $r->{status} >= 400) {
        my @codes = @{ $resp->{'x-fluentai-codes'} // [] };
        ok((grep { $_ eq $j->{code} } @codes),
           "$name: '$j->{code}' is listed for $key $r->{status}")
            or diag "listed: @codes";
        is $j->{status_code}, $r->{status}, "$name: status_code";
        $CODES_SEEN{ $j->{code} } = 1;
        is $j->{code}, $o{code}, "$name: code $o{code}" if $o{code};
    }
    # a request the module accepted fits the documented request schema
    if ($r->{status} == 200 && $op->{requestBody}) {
        my $rb = $op->{requestBody};
        if (defined $o{sent}) {
            my $e2 = valid($rb->{content}{'application/json'}{schema},
                           $o{sent});
            ok !@$e2, "$name: the accepted request body fits the request "
                      . "schema" or diag explain $e2;
        } else {
            ok !$rb->{required}, "$name: succeeded without a body, and the "
                                 . "document does not require one";
        }
    }
}

# R(name, METHOD, path, expected status, api options..., code => ...)
sub R {
    my ($name, $method, $path, $want, %a) = @_;
    my $code = delete $a{code};
    my $r = api($method, $path, %a);
    is $r->{status}, $want, "$name: $method $path -> $want"
        or diag $r->{body};
    my $sent = exists $a{json} ? json_encode($a{json})
             : defined $a{body} && length $a{body} ? $a{body} : undef;
    check($name, $method, $path, $r, code => $code, sent => $sent);
    return $r;
}


sub uuid4 {
    my @b = map { int rand 256 } 1 .. 16;
    $b[6] = ($b[6] & 0x0f) | 0x40;
    $b[8] = ($b[8] & 0x3f) | 0x80;
    my $h = join '', map { sprintf '%02x', $_ } @b;
    return join '-', substr($h, 0, 8), substr($h, 8, 4), substr($h, 12, 4),
                     substr($h, 16, 4), substr($h, 20);
}


my $ok = start_nginx(
    main_config => fluentai_main_config(),
    http_config => fluentai_http_config(),
    config      => fluentai_locations(),
);

SKIP: {
    skip 'nginx did not start', 1 unless $ok;

    subtest 'live: health' => sub {
        R('health', GET => '/health', 200);
        R('metrics', GET => '/metrics', 200);
        R('metrics POST', POST => '/metrics', 405,
          code => 'method_not_allowed');
        R('health HEAD', HEAD => '/health', 200);
        R('health POST', POST => '/health', 405, code => 'method_not_allowed');
        R('health DELETE', DELETE => '/health', 405,
          code => 'method_not_allowed');
    };

    my $email = unique_email('openapi');
    my ($pw, $pw2, $pw3) = ('correct horse 1', 'battery staple 2',
                            'Пароль на русском 3');
    my ($access, $refresh, $user_id);

    subtest 'live: register' => sub {
        my $r = R('register', POST => '/auth/register', 200,
                  json => { name => 'Ann Openapi', email => uc $email,
                            password => $pw, confirmPassword => $pw });
        ($access, $refresh) = @{ $r->{json} // {} }{qw(access_token
                                                      refresh_token)};
        $user_id = $r->{json}{user}{id};
        R('register again', POST => '/auth/register', 409,
          json => { name => 'Ann', email => $email, password => $pw },
          code => 'email_exists');
        R('register invalid', POST => '/auth/register', 422,
          json => { name => 'A', email => 'no-at-sign', password => 'short' },
          code => 'validation_failed');
        R('register missing fields', POST => '/auth/register', 422,
          json => {}, code => 'validation_failed');
        R('register bad JSON', POST => '/auth/register', 400,
          headers => { 'Content-Type' => 'application/json' },
          body => '{"name":', code => 'invalid_json');
        R('register JSON array', POST => '/auth/register', 400,
          headers => { 'Content-Type' => 'application/json' },
          body => '[1,2]', code => 'invalid_json');
        R('register form body', POST => '/auth/register', 415,
          headers => { 'Content-Type' => 'application/x-www-form-urlencoded' },
          body => 'name=Ann', code => 'unsupported_media_type');
        R('register 17 KiB', POST => '/auth/register', 413,
          headers => { 'Content-Type' => 'application/json' },
          body => '{"name":"' . ('x' x 17000) . '"}',
          code => 'payload_too_large');
        R('register GET', GET => '/auth/register', 405,
          code => 'method_not_allowed');
    };

    subtest 'live: login' => sub {
        my $r = R('login', POST => '/auth/login', 200,
                  json => { email => $email, password => $pw });
        ($access, $refresh) = @{ $r->{json} // {} }{qw(access_token
                                                      refresh_token)};
        R('login remember false', POST => '/auth/login', 200,
          json => { email => $email, password => $pw,
                    remember => JSON::PP::false });
        R('login wrong password', POST => '/auth/login', 401,
          json => { email => $email, password => 'wrong password' },
          code => 'invalid_credentials');
        R('login unknown email', POST => '/auth/login', 401,
          json => { email => unique_email('nobody'), password => $pw },
          code => 'invalid_credentials');
        R('login missing password', POST => '/auth/login', 422,
          json => { email => $email }, code => 'validation_failed');
        R('login remember not boolean', POST => '/auth/login', 422,
          json => { email => $email, password => $pw, remember => 'yes' },
          code => 'validation_failed');
        R('login empty body', POST => '/auth/login', 400,
          headers => { 'Content-Type' => 'application/json' }, body => '',
          code => 'invalid_json');
        R('login text/plain', POST => '/auth/login', 415,
          headers => { 'Content-Type' => 'text/plain' }, body => 'hi',
          code => 'unsupported_media_type');
        R('login 17 KiB', POST => '/auth/login', 413,
          headers => { 'Content-Type' => 'application/json' },
          body => '{"email":"' . ('x' x 17000) . '"}',
          code => 'payload_too_large');
        R('login PUT', PUT => '/auth/login', 405,
          code => 'method_not_allowed');
    };

    my $claims = do {
        my (undef, $p) = split /\./, $access // '';
        $p //= '';
        $p =~ tr/-_/+\//;
        $p .= '=' x ((4 - length($p) % 4) % 4);
        json_decode(MIME::Base64::decode_base64($p)) // {};
    };

    subtest 'live: profile' => sub {
        for my $path ('/auth/profile', '/user/profile') {
            R("$path", GET => $path, 200, headers => bearer($access));
            R("$path HEAD", HEAD => $path, 200, headers => bearer($access));
            R("$path no token", GET => $path, 401,
              code => 'not_authenticated');
            R("$path garbage token", GET => $path, 401,
              headers => bearer('abc.def.ghi'), code => 'invalid_token');
            R("$path expired token", GET => $path, 401,
              headers => bearer(jwt(sub => $claims->{sub}, sid => $claims->{sid},
                                    iat => time - 7200, exp => time - 3600)),
              code => 'token_expired');
            R("$path unknown session", GET => $path, 401,
              headers => bearer(jwt(sub => $claims->{sub}, sid => uuid4())),
              code => 'invalid_token');
        }
        R('profile POST', POST => '/auth/profile', 405,
          code => 'method_not_allowed');
        R('user profile DELETE', DELETE => '/user/profile', 405,
          code => 'method_not_allowed');
    };

    subtest 'live: profile update' => sub {
        R('update', PUT => '/user/profile', 200, headers => bearer($access),
          json => { name => 'Ann Updated', bio => 'Learns Spanish',
                    avatar => 'https://cdn.example.com/ann.png' });
        R('update clears', PUT => '/user/profile', 200,
          headers => bearer($access), json => { avatar => undef, bio => undef });
        R('update nothing', PUT => '/user/profile', 200,
          headers => bearer($access), json => {});
        R('update null name', PUT => '/user/profile', 422,
          headers => bearer($access), json => { name => undef },
          code => 'validation_failed');
        R('update bad avatar and bio', PUT => '/user/profile', 422,
          headers => bearer($access),
          json => { avatar => 'ftp://x', bio => 'b' x 501 },
          code => 'validation_failed');
        R('update no token', PUT => '/user/profile', 401,
          json => { name => 'X Y' }, code => 'not_authenticated');
        R('update bad JSON', PUT => '/user/profile', 400,
          headers => { %{ bearer($access) },
                       'Content-Type' => 'application/json' },
          body => '{"name"', code => 'invalid_json');
        R('update text/plain', PUT => '/user/profile', 415,
          headers => { %{ bearer($access) }, 'Content-Type' => 'text/plain' },
          body => 'name', code => 'unsupported_media_type');
        R('update 17 KiB', PUT => '/user/profile', 413,
          headers => { %{ bearer($access) },
                       'Content-Type' => 'application/json' },
          body => '{"bio":"' . ('x' x 17000) . '"}',
          code => 'payload_too_large');
    };

    subtest 'live: refresh' => sub {
        my $r = R('refresh (body)', POST => '/auth/refresh', 200,
                  json => { refresh_token => $refresh });
        my $rt2 = $r->{json}{refresh_token} // '';
        $r = R('refresh (query)', POST => "/auth/refresh?refresh_token=$rt2",
               200);
        my $rt3 = $r->{json}{refresh_token} // '';
        R('refresh null body, query token', POST =>
          "/auth/refresh?refresh_token=$rt3", 200,
          json => { refresh_token => undef });
        R('refresh reused', POST => '/auth/refresh', 401,
          json => { refresh_token => $refresh }, code => 'refresh_token_reused');
        R('refresh unknown', POST => '/auth/refresh', 401,
          json => { refresh_token => 'A' x 43 },
          code => 'invalid_refresh_token');
        R('refresh malformed', POST => '/auth/refresh', 401,
          json => { refresh_token => 'not a token' },
          code => 'invalid_refresh_token');
        R('refresh missing', POST => '/auth/refresh', 422, json => {},
          code => 'validation_failed');
        R('refresh not a string', POST => '/auth/refresh', 422,
          json => { refresh_token => 5 }, code => 'validation_failed');
        R('refresh bad JSON', POST => '/auth/refresh', 400,
          headers => { 'Content-Type' => 'application/json' }, body => '{',
          code => 'invalid_json');
        R('refresh text/plain', POST => '/auth/refresh', 415,
          headers => { 'Content-Type' => 'text/plain' }, body => 'x',
          code => 'unsupported_media_type');
        R('refresh 17 KiB', POST => '/auth/refresh', 413,
          headers => { 'Content-Type' => 'application/json' },
          body => '{"refresh_token":"' . ('x' x 17000) . '"}',
          code => 'payload_too_large');
        R('refresh GET', GET => '/auth/refresh', 405,
          code => 'method_not_allowed');
    };

    subtest 'live: change password' => sub {
        my $r = api(POST => '/auth/login',
                    json => { email => $email, password => $pw });
        my $t = $r->{json}{access_token} // '';
        R('change wrong current', POST => '/user/change-password', 401,
          headers => bearer($t),
          json => { currentPassword => 'not my password', newPassword => $pw2 },
          code => 'current_password_incorrect');
        R('change too short', POST => '/user/change-password', 422,
          headers => bearer($t),
          json => { currentPassword => $pw, newPassword => 'short' },
          code => 'validation_failed');
        R('change same', POST => '/user/change-password', 422,
          headers => bearer($t),
          json => { currentPassword => $pw, newPassword => $pw },
          code => 'same_password');
        R('change no token', POST => '/user/change-password', 401,
          json => { currentPassword => $pw, newPassword => $pw2 },
          code => 'not_authenticated');
        R('change bad JSON', POST => '/user/change-password', 400,
          headers => { %{ bearer($t) }, 'Content-Type' => 'application/json' },
          body => 'nope', code => 'invalid_json');
        R('change text/plain', POST => '/user/change-password', 415,
          headers => { %{ bearer($t) }, 'Content-Type' => 'text/plain' },
          body => 'x', code => 'unsupported_media_type');
        R('change 17 KiB', POST => '/user/change-password', 413,
          headers => { %{ bearer($t) }, 'Content-Type' => 'application/json' },
          body => '{"newPassword":"' . ('x' x 17000) . '"}',
          code => 'payload_too_large');
        R('change GET', GET => '/user/change-password', 405,
          code => 'method_not_allowed');
        R('change (snake_case)', POST => '/user/change-password', 200,
          headers => bearer($t),
          json => { current_password => $pw, new_password => $pw2 });
        R('change (camelCase)', POST => '/user/change-password', 200,
          headers => bearer($t),
          json => { currentPassword => $pw2, newPassword => $pw3 });
        $r = R('login with the new password', POST => '/auth/login', 200,
               json => { email => $email, password => $pw3 });
        ($access, $refresh) = @{ $r->{json} // {} }{qw(access_token
                                                      refresh_token)};
    };

    subtest 'live: sessions' => sub {
        my $t = $access // '';
        my $expired = jwt(sub => $claims->{sub}, sid => $claims->{sid},
                          iat => time - 7200, exp => time - 3600);
        R('sessions', GET => '/auth/sessions', 200, headers => bearer($t));
        R('sessions HEAD', HEAD => '/auth/sessions', 200,
          headers => bearer($t));
        R('sessions no token', GET => '/auth/sessions', 401,
          code => 'not_authenticated');
        R('sessions garbage token', GET => '/auth/sessions', 401,
          headers => bearer('abc.def.ghi'), code => 'invalid_token');
        R('sessions expired token', GET => '/auth/sessions', 401,
          headers => bearer($expired), code => 'token_expired');
        R('sessions POST', POST => '/auth/sessions', 405,
          code => 'method_not_allowed');
        my $r = api(POST => '/auth/login',
                    json => { email => $email, password => $pw3 });
        my (undef, $p) = split /\./, $r->{json}{access_token} // '';
        my $sid = (json_decode(MIME::Base64::decode_base64url($p // ''))
                   // {})->{sid} // uuid4();
        R('session revoke', DELETE => "/auth/sessions/$sid", 200,
          headers => bearer($t));
        R('session revoke again', DELETE => "/auth/sessions/$sid", 404,
          headers => bearer($t), code => 'session_not_found');
        R('session revoke unknown', DELETE => '/auth/sessions/' . uuid4(),
          404, headers => bearer($t), code => 'session_not_found');
        R('session revoke no token', DELETE => "/auth/sessions/$sid", 401,
          code => 'not_authenticated');
        R('session revoke garbage token', DELETE => "/auth/sessions/$sid",
          401, headers => bearer('abc.def.ghi'), code => 'invalid_token');
        R('session revoke expired token', DELETE => "/auth/sessions/$sid",
          401, headers => bearer($expired), code => 'token_expired');
        R('session GET', GET => "/auth/sessions/$sid", 405,
          code => 'method_not_allowed');
    };

    subtest 'live: logout' => sub {
        R('logout, nothing', POST => '/auth/logout', 200);
        R('logout, bad token', POST => '/auth/logout', 200,
          headers => bearer('x.y.z'));
        R('logout bad JSON', POST => '/auth/logout', 400,
          headers => { 'Content-Type' => 'application/json' }, body => '[',
          code => 'invalid_json');
        R('logout text/plain', POST => '/auth/logout', 415,
          headers => { 'Content-Type' => 'text/plain' }, body => 'x',
          code => 'unsupported_media_type');
        R('logout 17 KiB', POST => '/auth/logout', 413,
          headers => { 'Content-Type' => 'application/json' },
          body => '{"refresh_token":"' . ('x' x 17000) . '"}',
          code => 'payload_too_large');
        R('logout GET', GET => '/auth/logout', 405,
          code => 'method_not_allowed');
        R('logout token + refresh token', POST => '/auth/logout', 200,
          headers => bearer($access), json => { refresh_token => $refresh });
        R('profile after logout', GET => '/auth/profile', 401,
          headers => bearer($access), code => 'invalid_token');
        my $r = api(POST => '/auth/login',
                    json => { email => $email, password => $pw3 });
        R('logout all', POST => '/auth/logout', 200,
          headers => bearer($r->{json}{access_token} // ''),
          json => { all => JSON::PP::true });
        $r = api(POST => '/auth/login',
                 json => { email => $email, password => $pw3 });
        R('logout ?scope=all', POST => '/auth/logout?scope=all', 200,
          headers => bearer($r->{json}{access_token} // ''));
        R('logout bad scope', POST => '/auth/logout', 422,
          json => { scope => 'everything' }, code => 'validation_failed');
        $r = api(POST => '/auth/login',
                 json => { email => $email, password => $pw3 });
        R('logout scope others', POST => '/auth/logout', 200,
          headers => bearer($r->{json}{access_token} // ''),
          json => { scope => 'others' });
        R('logout scope global', POST => '/auth/logout', 200,
          headers => bearer($r->{json}{access_token} // ''),
          json => { scope => 'global' });
    };

    # recovery and verification: a server that sends mail to a sink and
    # requires verified emails
    subtest 'live: recovery and verification' => sub {
        my $sink = eval { start_sink() };
        plan skip_all => "no SMTP sink: $@" unless $sink;
        my $ok2 = start_nginx(
            main_config => fluentai_main_config(),
            http_config => fluentai_http_config(extra =>
                "    fluentai_smtp_relay 127.0.0.1:$sink->{port};\n"
                . "    fluentai_public_url https://app.example.test;\n"
                . "    fluentai_email_verification required;\n"),
            config      => fluentai_locations(),
        );
        my $token_of = sub {
            my ($m, $route) = @_;
            my ($t) = map { m{\Q$route\E\?token=([A-Za-z0-9_-]{43})$} ? $1
                                                                      : () }
                      @{ $m ? $m->{links} : [] };
            return $t // '';
        };
        my $me = unique_email('openapi-mail');
        my $mpw = 'mail password 1';
        R('register (verification required)', POST => '/auth/register', 200,
          json => { name => 'Mail Openapi', email => $me, password => $mpw });
        R('login, email not verified', POST => '/auth/login', 403,
          json => { email => $me, password => $mpw },
          code => 'email_not_verified');
        my $vt = $token_of->(wait_mail($sink, to => $me, timeout => 15),
                             '/verify-email');
        ok $vt, 'the verification mail arrived';

        for my $ep (['forgot', '/auth/forgot-password'],
                    ['resend', '/auth/resend-verification'])
        {
            my ($n, $p) = @$ep;
            R("$n", POST => $p, 200, json => { email => unique_email('x') });
            R("$n missing email", POST => $p, 422, json => {},
              code => 'validation_failed');
            R("$n bad JSON", POST => $p, 400,
              headers => { 'Content-Type' => 'application/json' },
              body => '{"email":', code => 'invalid_json');
            R("$n form body", POST => $p, 415,
              headers => { 'Content-Type' => 'application/x-www-form-urlencoded' },
              body => 'email=a', code => 'unsupported_media_type');
            R("$n 17 KiB", POST => $p, 413,
              headers => { 'Content-Type' => 'application/json' },
              body => '{"email":"' . ('a' x 17408) . '"}',
              code => 'payload_too_large');
            R("$n GET", GET => $p, 405, code => 'method_not_allowed');
        }

        R('resend for the unverified', POST => '/auth/resend-verification',
          200, json => { email => $me });
        my $vt2 = $token_of->(wait_mail($sink, to => $me, seen => 1,
                                        timeout => 15), '/verify-email');
        R('verify, superseded token', POST => '/auth/verify-email', 400,
          json => { token => $vt }, code => 'invalid_verification_token');
        R('verify', POST => '/auth/verify-email', 200,
          json => { token => $vt2 });
        R('verify missing token', POST => '/auth/verify-email', 422,
          json => {}, code => 'validation_failed');
        R('verify bad JSON', POST => '/auth/verify-email', 400,
          headers => { 'Content-Type' => 'application/json' },
          body => '[]', code => 'invalid_json');
        R('verify form body', POST => '/auth/verify-email', 415,
          headers => { 'Content-Type' => 'text/plain' }, body => 'x',
          code => 'unsupported_media_type');
        R('verify 17 KiB', POST => '/auth/verify-email', 413,
          headers => { 'Content-Type' => 'application/json' },
          body => '{"token":"' . ('a' x 17408) . '"}',
          code => 'payload_too_large');
        R('verify GET', GET => '/auth/verify-email', 405,
          code => 'method_not_allowed');

        R('forgot for the user', POST => '/auth/forgot-password', 200,
          json => { email => $me });
        my $rt = $token_of->(wait_mail($sink, to => $me, seen => 2,
                                       timeout => 15), '/reset-password');
        R('reset', POST => '/auth/reset-password', 200,
          json => { token => $rt, new_password => 'mail password 2' });
        R('reset again', POST => '/auth/reset-password', 400,
          json => { token => $rt, newPassword => 'mail password 3' },
          code => 'invalid_reset_token');
        R('reset short password', POST => '/auth/reset-password', 422,
          json => { token => $rt, newPassword => 'short' },
          code => 'validation_failed');
        R('reset blank password', POST => '/auth/reset-password', 422,
          json => { token => $rt, newPassword => ' ' x 8 },
          code => 'password_too_common');
        R('reset bad JSON', POST => '/auth/reset-password', 400,
          headers => { 'Content-Type' => 'application/json' },
          body => '{', code => 'invalid_json');
        R('reset form body', POST => '/auth/reset-password', 415,
          headers => { 'Content-Type' => 'text/plain' }, body => 'x',
          code => 'unsupported_media_type');
        R('reset 17 KiB', POST => '/auth/reset-password', 413,
          headers => { 'Content-Type' => 'application/json' },
          body => '{"token":"' . ('a' x 17408) . '"}',
          code => 'payload_too_large');
        R('reset GET', GET => '/auth/reset-password', 405,
          code => 'method_not_allowed');
        R('login after the reset', POST => '/auth/login', 200,
          json => { email => $me, password => 'mail password 2' });
        stop_sink($sink);
    };

    # the database is down: a second server whose conninfo points nowhere
    my $down = start_nginx(
        main_config => fluentai_main_config(),
        http_config => fluentai_http_config(
            database => 'hostaddr=127.0.0.1 port=1 dbname=fluentai_test '
                        . 'user=postgres connect_timeout=2'),
        config      => fluentai_locations(),
    );
    subtest 'live: database down (503)' => sub {
        plan skip_all => 'nginx did not start' unless $down;
        my $t = jwt(sub => $user_id // uuid4(), sid => uuid4());
        R('health, db down', GET => '/health', 503);
        R('login, db down', POST => '/auth/login', 503,
          json => { email => $email, password => $pw3 },
          code => 'database_unavailable');
        R('register, db down', POST => '/auth/register', 503,
          json => { name => 'Ann', email => unique_email('down'),
                    password => $pw },
          code => 'database_unavailable');
        R('refresh, db down', POST => '/auth/refresh', 503,
          json => { refresh_token => 'A' x 43 },
          code => 'database_unavailable');
        R('logout, db down', POST => '/auth/logout', 503,
          headers => bearer($t), code => 'database_unavailable');
        R('profile, db down', GET => '/auth/profile', 503,
          headers => bearer($t), code => 'database_unavailable');
        R('user profile, db down', GET => '/user/profile', 503,
          headers => bearer($t), code => 'database_unavailable');
        R('profile update, db down', PUT => '/user/profile', 503,
          headers => bearer($t), json => { bio => 'x' },
          code => 'database_unavailable');
        R('sessions, db down', GET => '/auth/sessions', 503,
          headers => bearer($t), code => 'database_unavailable');
        R('session revoke, db down', DELETE => '/auth/sessions/' . uuid4(),
          503, headers => bearer($t), code => 'database_unavailable');
        R('change password, db down', POST => '/user/change-password', 503,
          headers => bearer($t),
          json => { currentPassword => $pw, newPassword => $pw2 },
          code => 'database_unavailable');
        R('forgot password, db down', POST => '/auth/forgot-password', 503,
          json => { email => $email }, code => 'database_unavailable');
        R('reset password, db down', POST => '/auth/reset-password', 503,
          json => { token => 'A' x 43, new_password => $pw2 },
          code => 'database_unavailable');
        R('verify email, db down', POST => '/auth/verify-email', 503,
          json => { token => 'A' x 43 }, code => 'database_unavailable');
        R('resend verification, db down', POST => '/auth/resend-verification',
          503, json => { email => $email }, code => 'database_unavailable');
    };

    subtest 'coverage: every documented response was seen live' => sub {
        for my $path (sort keys %{ $DOC->{paths} }) {
            for my $m (sort keys %{ $DOC->{paths}{$path} }) {
                my $op = $DOC->{paths}{$path}{$m};
                next unless ref $op eq 'HASH' && $op->{responses};
                my $key = "$path " . uc $m;
                for my $st (sort keys %{ $op->{responses} }) {
                    next if $st eq '429' || $st eq '500';   # see the header
                    ok $SEEN{$key}{$st}, "$key $st seen and validated";
                }
            }
        }
    };

    stop_nginx();
}

done_testing();
