module fastrace.test/goprogs

go 1.22
