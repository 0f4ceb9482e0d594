# Evaluate the record_transformer <record> of a generated config on records, the way Fluentd's
# RubyPlaceholderExpander does (enable_ruby, auto_typecast): one ${...} placeholder -> its value.
# stdin: {"fields": [["name", "value"], ...], "records": [{...}, ...]}
# stdout: [{"name": value, ...}, ...]
require "json"
require "ostruct"

input = JSON.parse($stdin.read)
out = input["records"].map do |record|
  scope = OpenStruct.new(record: record, time: Time.now)
  input["fields"].to_h do |name, value|
    single = value.match(/\A\$\{([^}]+)\}\z/)
    if single
      [name, scope.instance_eval { binding }.eval(single[1])]
    elsif value.include?("${")
      [name, scope.instance_eval { binding }.eval("\"" + value.gsub(/\$\{([^}]+)\}/, '#{\1}') + "\"")]
    else
      [name, value]
    end
  end
end
puts JSON.generate(out)
