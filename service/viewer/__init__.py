"""The staff viewer: doctors, dentists and pharmacists see consented patients' medication and checkup history."""
