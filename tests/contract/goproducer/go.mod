module gridwatch.io/tests/goproducer

go 1.22
