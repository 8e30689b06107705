#!/usr/bin/perl
# Writes a tiny GeoIP2-City-shaped .mmdb for tests, from CIDR=CC[,LAT,LON] arguments:
#   perl tools/mkmmdb.pl OUT.mmdb 127.0.0.5/32=JP,35.68,139.69 2001:db8::/32=FR
# Each record is {country: {iso_code}, location: {latitude, longitude}} (location only when
# given). IPv6 tree with IPv4 at ::a.b.c.d, as MaxMind ships it, so libmaxminddb finds both.
# Needs MaxMind::DB::Writer::Tree (Debian: libmaxmind-db-writer-perl).
use strict;
use warnings;

use MaxMind::DB::Writer::Tree;

sub usage {
    print STDERR "usage: perl tools/mkmmdb.pl OUT.mmdb CIDR=CC[,LAT,LON] ...\n",
        "  e.g. perl tools/mkmmdb.pl /tmp/t.mmdb 127.0.0.5/32=JP,35.68,139.69 10.0.0.0/8=FR\n";
    exit 2;
}

my $num = qr/-?(?:\d+(?:\.\d*)?|\.\d+)/;

# "CIDR=CC[,LAT,LON]" -> (cidr, record); dies with the bad argument named. A bare address
# is one host (/32 or /128).
sub parse_arg {
    my ($arg) = @_;
    my ($cidr, $cc, $lat, $lon) =
        $arg =~ m{^([0-9A-Fa-f.:]+(?:/\d+)?)=([A-Za-z]{2})(?:,($num),($num))?$}
        or die "mkmmdb: bad argument \"$arg\"; expected CIDR=CC[,LAT,LON]\n";
    $cidr .= $cidr =~ /:/ ? '/128' : '/32' unless $cidr =~ m{/};
    my %rec = (country => { iso_code => uc $cc });
    if (defined $lat) {
        die "mkmmdb: \"$arg\": latitude must be -90..90, longitude -180..180\n"
            if abs($lat) > 90 || abs($lon) > 180;
        $rec{location} = { latitude => $lat + 0, longitude => $lon + 0 };
    }
    return ($cidr, \%rec);
}

my %types = (
    country   => 'map',
    iso_code  => 'utf8_string',
    location  => 'map',
    latitude  => 'double',
    longitude => 'double',
);

usage() if @ARGV < 2;
my $out = shift @ARGV;
my @nets = map { [ parse_arg($_) ] } @ARGV;

my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version    => 6,
    record_size   => 28,
    database_type => 'GeoIP2-City',
    languages     => ['en'],
    description   => { en => 'Meridian test database' },
    # Tests use loopback and documentation ranges, which the writer drops by default.
    remove_reserved_networks => 0,
    # IPv4 lives at ::a.b.c.d; alias ::ffff:0:0/96 (and 6to4, Teredo) to it, as MaxMind's
    # own databases do, so mapped addresses resolve in mmdblookup too.
    alias_ipv6_to_ipv4    => 1,
    map_key_type_callback => sub { $types{ $_[0] } // die "mkmmdb: no type for key $_[0]\n" },
);

for my $n (@nets) {
    my ($cidr, $rec) = @$n;
    eval { $tree->insert_network($cidr, $rec); 1 }
        or die "mkmmdb: cannot insert \"$cidr\": $@";
}

# Write to a temporary name then rename, so a reader never sees half a file.
my $tmp = "$out.tmp$$";
open my $fh, '>:raw', $tmp or die "mkmmdb: cannot write $tmp: $!\n";
$tree->write_tree($fh);
close $fh or die "mkmmdb: cannot write $tmp: $!\n";
rename $tmp, $out or die "mkmmdb: cannot rename $tmp to $out: $!\n";
