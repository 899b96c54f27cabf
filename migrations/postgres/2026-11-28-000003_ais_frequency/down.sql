DROP TABLE ais_listings;
DROP TABLE ais_access_counts;
