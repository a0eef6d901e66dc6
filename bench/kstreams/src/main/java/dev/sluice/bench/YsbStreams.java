package dev.sluice.bench;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.Windowed;
import org.apache.kafka.streams.processor.TimestampExtractor;
import org.apache.kafka.streams.processor.internals.DefaultKafkaClientSupplier;

/**
 * The YSB job in Kafka Streams, the baseline Sluice's YSB pipeline is measured against:
 *
 *   source ─▶ parse (Jackson) ─▶ keep views ─▶ project {ad_id, event_time} ─▶ join ad → campaign (static map)
 *          ─▶ repartition by campaign ─▶ 10 s tumbling windows (event time, grace = out-of-orderness + lateness)
 *          ─▶ count ─▶ sink  {"key", "window": {"start", "end"}, "value"}
 *
 * Kafka Streams emits a window's count as it changes (at each commit, with its record cache);
 * the last value of a window is its final count. It talks to the benchmark over stdio: JSON lines
 * on stdout ({"event": "running" | "first" | "warm" | "stats" | "stopped" | "error"}); "stats"
 * and "stop" on stdin.
 */
public final class YsbStreams {
  private static final ObjectMapper JSON = new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, true);
  private static final AtomicLong TRANSACTIONS = new AtomicLong();
  private static final AtomicLong ABORTS = new AtomicLong();
  private static final AtomicLong INPUT = new AtomicLong();
  private static final AtomicBoolean FIRST = new AtomicBoolean();

  /** An ad event as the YSB generator writes it. */
  public static final class AdEvent {
    public String user_id;
    public String page_id;
    public String ad_id;
    public String ad_type;
    public String event_type;
    public long event_time;
    public String ip_address;
  }

  private YsbStreams() {}

  public static void main(String[] argv) throws Exception {
    Map<String, String> args = parseArgs(argv);
    String bootstrap = required(args, "bootstrap");
    String appId = required(args, "app-id");
    String source = required(args, "source");
    String sink = required(args, "sink");
    Map<String, String> campaignOf = loadCampaigns(Path.of(required(args, "campaigns")));
    int partitions = Integer.parseInt(args.getOrDefault("partitions", "4"));
    long windowMs = Long.parseLong(args.getOrDefault("window-ms", "10000"));
    long graceMs = Long.parseLong(args.getOrDefault("grace-ms", "3000"));
    long warmup = Long.parseLong(args.getOrDefault("warmup", "0"));

    Properties props = new Properties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, args.getOrDefault("guarantee", StreamsConfig.EXACTLY_ONCE_V2));
    props.put(StreamsConfig.STATE_DIR_CONFIG, required(args, "state-dir"));
    props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, Integer.parseInt(args.getOrDefault("threads", "1")));
    props.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
    props.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");

    StreamsBuilder builder = new StreamsBuilder();
    builder.stream(source, Consumed.with(Serdes.String(), Serdes.String()).withTimestampExtractor(new EventTimeExtractor()))
        .peek((k, v) -> {
          long before = INPUT.getAndIncrement();
          if (FIRST.compareAndSet(false, true)) emit("{\"event\":\"first\",\"at\":" + System.currentTimeMillis() + "}");
          // The timed part of the drain starts once `warmup` records were taken before this one.
          if (before == warmup) emit("{\"event\":\"warm\",\"at\":" + System.currentTimeMillis() + ",\"records\":" + before + "}");
        })
        .mapValues(YsbStreams::parse)
        .filter((k, e) -> e != null && "view".equals(e.event_type))
        .map((k, e) -> KeyValue.pair(campaignOf.get(e.ad_id), view(e, campaignOf.get(e.ad_id))))
        // A view of an ad in no campaign: Sluice dead-letters it; the generator writes none.
        .filter((campaign, v) -> campaign != null)
        .repartition(Repartitioned.with(Serdes.String(), Serdes.String()).withName("by-campaign").withNumberOfPartitions(partitions))
        .groupByKey()
        .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMillis(windowMs), Duration.ofMillis(graceMs)))
        .count(Materialized.as("campaign-counts"))
        .toStream()
        .map((Windowed<String> w, Long n) -> KeyValue.pair(w.key(), result(w, n)))
        .to(sink, Produced.with(Serdes.String(), Serdes.String()));

    KafkaStreams streams = new KafkaStreams(builder.build(), props, new CountingClientSupplier());
    streams.setUncaughtExceptionHandler(e -> {
      emit("{\"event\":\"error\",\"message\":" + quote(String.valueOf(e)) + "}");
      return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
    });
    streams.setStateListener((now, before) -> {
      if (now == KafkaStreams.State.RUNNING) emit("{\"event\":\"running\"}");
      if (now == KafkaStreams.State.ERROR) emit("{\"event\":\"error\",\"message\":\"streams in ERROR state\"}");
    });
    streams.cleanUp();
    streams.start();

    BufferedReader stdin = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    for (String line; (line = stdin.readLine()) != null; ) {
      String command = line.trim();
      if (command.equals("stats")) emit(stats(streams));
      if (command.equals("stop")) break;
    }
    String last = stats(streams);
    streams.close(Duration.ofSeconds(30));
    streams.cleanUp();
    emit(last.replace("\"event\":\"stats\"", "\"event\":\"stopped\""));
    System.exit(0);
  }

  /** Parses an ad event; a malformed one is dropped (none are generated). */
  static AdEvent parse(String value) {
    try {
      return JSON.readValue(value, AdEvent.class);
    } catch (IOException e) {
      return null;
    }
  }

  static String view(AdEvent e, String campaign) {
    ObjectNode n = JSON.createObjectNode();
    n.put("ad_id", e.ad_id);
    n.put("event_time", e.event_time);
    n.put("campaign_id", campaign);
    return n.toString();
  }

  static String result(Windowed<String> w, long count) {
    ObjectNode n = JSON.createObjectNode();
    n.put("key", w.key());
    ObjectNode window = n.putObject("window");
    window.put("start", w.window().start());
    window.put("end", w.window().end());
    n.put("value", count);
    n.put("firing", "update");
    return n.toString();
  }

  /** Event time from the JSON text without a full parse (the job parses the value once, later). */
  public static final class EventTimeExtractor implements TimestampExtractor {
    @Override
    public long extract(ConsumerRecord<Object, Object> record, long partitionTime) {
      Object v = record.value();
      if (!(v instanceof String)) return record.timestamp();
      String s = (String) v;
      int i = s.indexOf("\"event_time\":");
      if (i < 0) return record.timestamp();
      i += "\"event_time\":".length();
      long t = 0;
      boolean any = false;
      for (; i < s.length(); i++) {
        char c = s.charAt(i);
        if (c == ' ') continue;
        if (c < '0' || c > '9') break;
        t = t * 10 + (c - '0');
        any = true;
      }
      return any ? t : record.timestamp();
    }
  }

  /** Counts the transactions the Streams producers commit and abort. */
  static final class CountingClientSupplier extends DefaultKafkaClientSupplier {
    @Override
    @SuppressWarnings("unchecked")
    public Producer<byte[], byte[]> getProducer(Map<String, Object> config) {
      Producer<byte[], byte[]> real = super.getProducer(config);
      return (Producer<byte[], byte[]>) Proxy.newProxyInstance(
          Producer.class.getClassLoader(),
          new Class<?>[] {Producer.class},
          (proxy, method, methodArgs) -> {
            if (method.getName().equals("commitTransaction")) TRANSACTIONS.incrementAndGet();
            if (method.getName().equals("abortTransaction")) ABORTS.incrementAndGet();
            try {
              return method.invoke(real, methodArgs);
            } catch (InvocationTargetException e) {
              throw e.getCause();
            }
          });
    }
  }

  /** Requests per client kind (from the clients' own request-total metrics), commits and transactions. */
  static String stats(KafkaStreams streams) {
    Map<String, Double> requests = new TreeMap<>();
    double commits = 0;
    double processed = 0;
    for (Map.Entry<MetricName, ? extends Metric> e : streams.metrics().entrySet()) {
      MetricName name = e.getKey();
      Object value = e.getValue().metricValue();
      if (!(value instanceof Number)) continue;
      double v = ((Number) value).doubleValue();
      if (name.name().equals("request-total")) {
        String client = name.tags().getOrDefault("client-id", "");
        String kind = name.group().startsWith("producer") ? "producer"
            : name.group().startsWith("admin") ? "admin"
            : client.endsWith("restore-consumer") ? "restore-consumer"
            : "consumer";
        requests.merge(kind, v, Double::sum);
      }
      if (name.group().equals("stream-thread-metrics") && name.name().equals("commit-total")) commits += v;
      if (name.group().equals("stream-thread-metrics") && name.name().equals("process-total")) processed += v;
    }
    StringBuilder sb = new StringBuilder("{\"event\":\"stats\",\"requests\":{");
    int n = 0;
    for (Map.Entry<String, Double> r : requests.entrySet()) {
      if (n++ > 0) sb.append(',');
      sb.append(quote(r.getKey())).append(':').append(r.getValue().longValue());
    }
    sb.append("},\"commits\":").append((long) commits)
        .append(",\"processed\":").append((long) processed)
        .append(",\"input\":").append(INPUT.get())
        .append(",\"transactions\":").append(TRANSACTIONS.get())
        .append(",\"aborts\":").append(ABORTS.get())
        .append(",\"state\":").append(quote(streams.state().toString()))
        .append('}');
    return sb.toString();
  }

  static Map<String, String> loadCampaigns(Path file) throws IOException {
    Map<String, String> byAd = new HashMap<>();
    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      String[] parts = line.trim().split("\\s+");
      if (parts.length == 2) byAd.put(parts[0], parts[1]);
    }
    if (byAd.isEmpty()) throw new IllegalArgumentException("no campaigns in " + file);
    return byAd;
  }

  static Map<String, String> parseArgs(String[] argv) {
    Map<String, String> out = new HashMap<>();
    for (int i = 0; i + 1 < argv.length; i += 2) {
      if (!argv[i].startsWith("--")) throw new IllegalArgumentException("expected --name value, got " + argv[i]);
      out.put(argv[i].substring(2), argv[i + 1]);
    }
    return out;
  }

  static String required(Map<String, String> args, String name) {
    String v = args.get(name);
    if (v == null) throw new IllegalArgumentException("missing --" + name);
    return v;
  }

  static synchronized void emit(String line) {
    System.out.println(line);
    System.out.flush();
  }

  static String quote(String s) {
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", " ") + "\"";
  }
}
