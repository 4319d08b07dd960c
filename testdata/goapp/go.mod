module goapp

go 1.26
