# Run the osla_record filter plugin (rendered by `osla fluentd render`) on records in plain Ruby,
# as the filter runs inside Fluentd: the other half of osla's field check (osloganalyze/fluentd/check.py).
# argv: PLUGIN_FILE; stdin: {"node": "...", "records": [{"record": {...}, "time": seconds, "path": "..."}, ...]}
# stdout: [[[seconds, {schema record}], ...], ...] (one list per input record)
require "json"
load ARGV[0]

input = JSON.parse($stdin.read)
shaper = OslaRecord::Shaper.new(input["node"])
out = input["records"].map do |item|
  shaper.shape(item["record"], Rational(item["time"].to_s), item["path"]).map do |moment, record|
    [moment.to_f, record]
  end
end
puts JSON.generate(out)
