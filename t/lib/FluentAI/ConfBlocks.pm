package FluentAI::ConfBlocks;

# For the block files that test configurations (t/config.t,
# t/mail_config.t): a block without "--- config" mounts /health, one
# without "--- request" asks it, so each block shows only the
# configuration it is about.
#
#   use Test::Nginx::Socket 'no_plan';
#   use FluentAI::ConfBlocks;
#   health_by_default();

use strict;
use warnings;

use Exporter 'import';
use Test::Nginx::Socket ();

our @EXPORT = qw(health_by_default);

my %DEFAULT = (
    config  => "    location = /health { fluentai_endpoint health; }\n",
    request => "GET /health\n",
);

sub health_by_default {
    Test::Nginx::Socket::add_block_preprocessor(sub {
        my $block = shift;
        for my $name (sort keys %DEFAULT) {
            next if $block->can($name) && defined $block->$name;
            $block->set_value($name => $DEFAULT{$name});
        }
    });
}

1;
