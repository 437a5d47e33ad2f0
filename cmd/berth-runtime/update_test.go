package main

import "testing"

func TestParseBytes(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"1024", 1024, false},
		{"-1", -1, false},
		{"32m", 32 << 20, false},
		{"32M", 32 << 20, false},
		{"1g", 1 << 30, false},
		{"1gb", 1 << 30, false},
		{"2KiB", 2048, false},
		{"1.5k", 1536, false},
		{"", 0, true},
		{"m", 0, true},
		{"-2", 0, true},
		{"12q", 0, true},
		{"lots", 0, true},
		{"99999999p", 0, true},
	}
	for _, tt := range tests {
		got, err := parseBytes(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
