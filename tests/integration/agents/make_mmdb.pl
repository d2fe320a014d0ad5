#!/usr/bin/perl
# Writes a tiny GeoIP2-City-shaped MMDB for test_geoip.py: one record for
# 127.0.0.77/32 (the address the test binds its client to). Usage:
# make_mmdb.pl OUT.mmdb [CITY] (default Lyon). Exits 2 when MaxMind::DB::Writer cannot load, so
# that the test can skip with a clear message.
use strict;
use warnings;

BEGIN {
    eval { require MaxMind::DB::Writer::Tree; 1 } or do {
        print STDERR "MaxMind::DB::Writer::Tree cannot load (Debian: libmaxmind-db-writer-perl): $@";
        exit 2;
    };
}

my $out = shift or die "usage: $0 OUT.mmdb [CITY]\n";
my $city = shift // 'Lyon';
my %types = (
    city => 'map', continent => 'map', country => 'map', location => 'map',
    subdivisions => ['array', 'map'], names => 'map', en => 'utf8_string',
    code => 'utf8_string', iso_code => 'utf8_string',
    latitude => 'double', longitude => 'double',
);
my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version => 4,
    record_size => 24,
    remove_reserved_networks => 0,
    database_type => 'GeoIP2-City',
    languages => ['en'],
    description => { en => 'sluice test_geoip' },
    map_key_type_callback => sub { $types{ $_[0] } },
);
$tree->insert_network('127.0.0.77/32', {
    city => { names => { en => $city } },
    continent => { code => 'EU', names => { en => 'Europe' } },
    country => { iso_code => 'FR', names => { en => 'France' } },
    subdivisions => [ { iso_code => 'ARA', names => { en => 'Auvergne-Rhone-Alpes' } } ],
    location => { latitude => 45.75, longitude => 4.85 },
});
open(my $fh, '>:raw', $out) or die "$out: $!\n";
$tree->write_tree($fh);
close($fh) or die "$out: $!\n";
