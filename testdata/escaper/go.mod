module escaper

go 1.26
