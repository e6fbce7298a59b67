#!/usr/bin/env bash
# Fetch Apache Kafka broker jars (plus every runtime dependency and a log4j2
# binding) from Maven Central into the local cache, once.
#
#   workloads/src/gridwatch/local/data/kafka-fetch.sh            # prints the libs dir on stdout's last line
#   KAFKA_VERSION=4.3.1 workloads/src/gridwatch/local/data/kafka-fetch.sh
#
# Env: KAFKA_VERSION, GRIDWATCH_CACHE (cache root), GRIDWATCH_M2_REPO (a Maven
# local repository other than ~/.m2/repository, e.g. to measure a cold fetch).
#
# Layout: ${GRIDWATCH_CACHE:-~/.cache/gridwatch}/kafka/<version>/libs/*.jar
# A ".complete" marker next to libs/ makes later runs a no-op.
set -euo pipefail

KAFKA_VERSION="${KAFKA_VERSION:-4.4.0}"
SCALA_VERSION="${SCALA_VERSION:-2.13}"
# Same log4j2 version kafka-server ${KAFKA_VERSION} depends on; the binding is
# for slf4j 1.7.x, which is the slf4j-api Kafka uses.
LOG4J_VERSION="${LOG4J_VERSION:-2.25.5}"

CACHE_ROOT="${GRIDWATCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gridwatch}"
DEST="$CACHE_ROOT/kafka/$KAFKA_VERSION"
LIBS="$DEST/libs"
MARKER="$DEST/.complete"

log() { printf '[kafka-fetch] %s\n' "$*" >&2; }

if [[ -f "$MARKER" ]] && compgen -G "$LIBS/kafka_${SCALA_VERSION}-${KAFKA_VERSION}.jar" >/dev/null; then
    log "Kafka $KAFKA_VERSION already cached in $LIBS ($(find "$LIBS" -name '*.jar' | wc -l) jars)"
    echo "$LIBS"
    exit 0
fi

mkdir -p "$DEST"
# One fetch at a time per version (parallel test workers, `make up`).
if command -v flock >/dev/null; then
    exec 9>"$DEST/.lock"
    flock 9
    if [[ -f "$MARKER" ]] && compgen -G "$LIBS/kafka_${SCALA_VERSION}-${KAFKA_VERSION}.jar" >/dev/null; then
        log "Kafka $KAFKA_VERSION was fetched by another process into $LIBS"
        echo "$LIBS"
        exit 0
    fi
fi

command -v mvn >/dev/null || { log "mvn not found: install Maven (apt-get install maven)"; exit 1; }
command -v java >/dev/null || { log "java not found: install a JDK 17+ (apt-get install openjdk-17-jre-headless)"; exit 1; }

WORK="$(mktemp -d "$DEST/.fetch.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

cat >"$WORK/pom.xml" <<POM
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 http://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.gridwatch.infra</groupId>
  <artifactId>kafka-broker-libs</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
    <!-- broker (kafka.Kafka) and storage formatting (kafka.tools.StorageTool) -->
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_${SCALA_VERSION}</artifactId>
      <version>${KAFKA_VERSION}</version>
    </dependency>
    <!-- slf4j 1.7 -> log4j2 binding so the broker logs through log4j2 to a file -->
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>${LOG4J_VERSION}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
      <version>${LOG4J_VERSION}</version>
    </dependency>
  </dependencies>
</project>
POM

log "resolving org.apache.kafka:kafka_${SCALA_VERSION}:${KAFKA_VERSION} and runtime dependencies (Maven Central)..."
start=$(date +%s)
MVN_ARGS=(-B -q -Dstyle.color=never)
[[ -n "${GRIDWATCH_M2_REPO:-}" ]] && MVN_ARGS+=("-Dmaven.repo.local=$GRIDWATCH_M2_REPO")
mvn "${MVN_ARGS[@]}" -f "$WORK/pom.xml" \
    org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
    -DincludeScope=runtime \
    -DoutputDirectory="$WORK/libs" \
    -DoverWriteReleases=true 2>&1 | sed -e 's/\x1b\[[0-9;]*m//g' -e '/^$/d' >&2

rm -rf "$LIBS"
mv "$WORK/libs" "$LIBS"
cp "$WORK/pom.xml" "$DEST/pom.xml"
printf 'kafka=%s scala=%s log4j=%s fetched=%s\n' "$KAFKA_VERSION" "$SCALA_VERSION" "$LOG4J_VERSION" "$(date -u +%FT%TZ)" >"$MARKER"
log "fetched $(find "$LIBS" -name '*.jar' | wc -l) jars ($(du -sh "$LIBS" | cut -f1)) into $LIBS in $(( $(date +%s) - start ))s"
echo "$LIBS"
