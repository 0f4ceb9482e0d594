# Compile Fluentd regexp literals and match them against lines, in the Ruby (Onigmo) that
# Fluentd runs: the other half of osla's cross-check (osloganalyze/fluentd/check.py).
# stdin: {"regexps": {"name": "/source/flags", ...}, "lines": ["...", ...]}
# stdout: {"errors": {"name": "message"}, "matches": [{"name": {"group": "value"} or null}, ...]}
require "json"

input = JSON.parse($stdin.read)
compiled = {}
errors = {}
input["regexps"].each do |name, literal|
  m = literal.match(%r{\A/(.*)/([imx]*)\z}m)
  if m.nil?
    errors[name] = "not a /.../ literal"
    next
  end
  options = 0
  options |= Regexp::IGNORECASE if m[2].include?("i")
  options |= Regexp::MULTILINE if m[2].include?("m")
  options |= Regexp::EXTENDED if m[2].include?("x")
  begin
    compiled[name] = Regexp.new(m[1], options)
  rescue RegexpError => e
    errors[name] = e.message
  end
end
matches = input["lines"].map do |line|
  compiled.to_h do |name, regexp|
    found = regexp.match(line)
    # as Fluentd's regexp parser reads them: every named group that took part in the match
    [name, found && found.names.uniq.to_h { |group| [group, found[group]] }.compact]
  end
end
puts JSON.generate({"errors" => errors, "matches" => matches})
