module github.com/wsmon/wsmon/internal/terms/segcompare

go 1.26.8

require (
	github.com/go-ego/gse v0.80.3
	github.com/wsmon/wsmon v0.0.0
)

require github.com/vcaesar/cedar v0.20.2 // indirect

replace github.com/wsmon/wsmon => ../../..
