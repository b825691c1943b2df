"""Storage upkeep: monthly partitions of the tables that grow with traffic, created ahead and dropped by age."""
