package message

import (
	"strings"
	"testing"
)

func TestParseFieldMap(t *testing.T) {
	tests := []struct {
		name    string
		in      map[string]string
		want    FieldMap
		wantErr string
	}{
		{name: "nil", in: nil, want: FieldMap{}},
		{name: "all", in: map[string]string{"user": "data.sender.nick", "content": "args.1", "type": "event", "room": "ch.name", "time": "meta.ts", "id": "_id.$oid"},
			want: FieldMap{User: "data.sender.nick", Content: "args.1", Type: "event", Room: "ch.name", Time: "meta.ts", ID: "_id.$oid"}},
		{name: "empty path means detect", in: map[string]string{"user": ""}, want: FieldMap{}},
		{name: "unknown key", in: map[string]string{"user": "u", "sender": "s"}, wantErr: `unknown field map key "sender"`},
		{name: "keys are exact", in: map[string]string{"User": "u"}, wantErr: `unknown field map key "User"`},
		{name: "double dot", in: map[string]string{"content": "a..b"}, wantErr: `field map "content": path "a..b" has an empty segment`},
		{name: "leading dot", in: map[string]string{"room": ".a"}, wantErr: `empty segment`},
		{name: "trailing dot", in: map[string]string{"time": "a."}, wantErr: `empty segment`},
		{name: "first error in key order", in: map[string]string{"zz": "x", "id": "a..b"}, wantErr: `field map "id"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fm, err := ParseFieldMap(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || fm != tt.want {
				t.Fatalf("ParseFieldMap = %+v, %v; want %+v", fm, err, tt.want)
			}
		})
	}
}
