package org.sparkdl.plan

import java.nio.file.{Files, Path}
import java.util.concurrent.{CountDownLatch, TimeUnit}
import java.util.concurrent.atomic.AtomicInteger

import org.apache.spark.SparkException
import org.apache.spark.scheduler.{SparkListener, SparkListenerJobEnd, SparkListenerJobStart}
import org.apache.spark.sql.{DataFrame, Row}
import org.apache.spark.sql.execution.SparkPlan
import org.apache.spark.sql.functions.{col, lit}
import org.apache.spark.sql.streaming.Trigger
import org.apache.spark.sql.types._
import org.scalatest.funsuite.AnyFunSuite

import org.sparkdl.SharedSpark
import org.sparkdl.arrow.NativeBatches
import org.sparkdl.image.{ImageReader, TestImages}
import org.sparkdl.engine.RunModelOp
import org.sparkdl.transformers.{DeepImageFeaturizer, TFImageTransformer, TFTransformer, TinyGraphs}

/** Model stages as plans: the NativeEval node and its operator. */
class NativeEvalSuite extends AnyFunSuite with SharedSpark {

  private lazy val dir: Path = {
    val d = Files.createTempDirectory("sparkdl-plan-")
    TestImages.writeLossless(d)
    TestImages.writeJpeg(d)
    d
  }

  private def means(inputCol: String) = new TFImageTransformer().setInputCol(inputCol).setOutputCol("v")
    .setGraph(TinyGraphs.channelMean(4, 4)).setInputTensor("x:0").setOutputTensor("y:0").setBatchSize(2)

  private def matMul = new TFTransformer().setGraph(TinyGraphs.matMul)
    .setInputMapping(Map("x" -> "x:0")).setOutputMapping(Map("y:0" -> "y"))

  private def numbers(n: Int): DataFrame = {
    import spark.implicits._
    (0 until n).map(i => (i, s"r$i", Seq(i * 0.5, 1.0 - i, 0.25))).toDF("id", "name", "x")
  }

  /** The jobs `body` submits, counted by job group through a listener (no timing involved). */
  private def jobsRunBy(body: => Unit): Int = {
    val sc = spark.sparkContext
    val group = s"under-test-${System.nanoTime()}"
    val sentinel = s"sentinel-${System.nanoTime()}"
    val seen = new AtomicInteger()
    val done = new CountDownLatch(1)
    val listener = new SparkListener {
      override def onJobStart(e: SparkListenerJobStart): Unit = {
        val g = Option(e.properties).map(_.getProperty("spark.jobGroup.id")).orNull
        if (g == group) seen.incrementAndGet()
      }
      override def onJobEnd(e: SparkListenerJobEnd): Unit = ()
    }
    val sentinelListener = new SparkListener {
      override def onJobStart(e: SparkListenerJobStart): Unit =
        if (Option(e.properties).map(_.getProperty("spark.jobGroup.id")).orNull == sentinel) done.countDown()
    }
    sc.addSparkListener(listener)
    sc.addSparkListener(sentinelListener)
    try {
      sc.setJobGroup(group, "transform under test")
      try body
      finally sc.clearJobGroup()
      // Listener events arrive in order: once the sentinel job is seen, so is every earlier job.
      sc.setJobGroup(sentinel, "sentinel")
      try sc.parallelize(1 to 1, 1).count()
      finally sc.clearJobGroup()
      assert(done.await(60, TimeUnit.SECONDS), "the sentinel job never reached the listener")
    } finally {
      sc.removeSparkListener(listener)
      sc.removeSparkListener(sentinelListener)
    }
    seen.get()
  }

  private def execs(df: DataFrame): Seq[NativeEvalExec] = {
    def all(p: SparkPlan): Seq[SparkPlan] = p +: (p.children ++ p.subqueries).flatMap(all)
    val plan = df.queryExecution.executedPlan match {
      case a: org.apache.spark.sql.execution.adaptive.AdaptiveSparkPlanExec => a.executedPlan
      case other => other
    }
    all(plan).collect { case e: NativeEvalExec => e }
  }

  test("transform() runs no Spark job, also after a shuffle with adaptive execution on") {
    spark.conf.set("spark.sql.adaptive.enabled", "true")
    try {
      val files = spark.read.format("binaryFile").load(dir.toString).repartition(3)
      val images = ImageReader.readImages(spark, dir.toString).repartition(2)
      val jobs = jobsRunBy {
        means("content").transform(files)
        means("image").transform(images)
        new DeepImageFeaturizer().setInputCol("image").setOutputCol("f").setModelName("MobileNetV2").transform(images)
        matMul.transform(numbers(5).repartition(2))
      }
      assert(jobs == 0)
      // And the results are right when an action runs.
      assert(means("content").transform(files).where(col("v").isNotNull).count() == 5)
    } finally spark.conf.unset("spark.sql.adaptive.enabled")
  }

  test("the optimized plan holds the sparkdl node, explain() names it, no RDD scan") {
    val files = spark.read.format("binaryFile").load(dir.toString)
    val out = means("content").transform(files)
    val optimized = out.queryExecution.optimizedPlan
    assert(optimized.collect { case e: NativeEval => e }.length == 1)
    assert(optimized.collect { case r: org.apache.spark.sql.execution.LogicalRDD => r }.isEmpty)
    assert(execs(out).length == 1)
    val explained = out.queryExecution.explainString(org.apache.spark.sql.execution.SimpleMode)
    assert(explained.contains("NativeEval") && explained.contains("x:0 -> y:0"), explained)
  }

  test("selecting a few columns carries no unused column through the operator") {
    val files = spark.read.format("binaryFile").load(dir.toString)
    val picked = means("content").transform(files).select("v")
    val e = execs(picked)
    assert(e.length == 1)
    // The child is pruned to the model's input; the image bytes are not carried on.
    assert(e.head.child.output.map(_.name) == Seq("content"))
    assert(e.head.output.map(_.name) == Seq("v", "v_error"))
    assert(picked.collect().count(!_.isNullAt(0)) == 5)
    // Kept columns that are not inputs still come through, in order, next to the results.
    val kept = means("content").transform(files).select("path", "v").collect()
    assert(kept.length == 5 && kept.forall(r =>
      r.getString(0).endsWith(".png") || r.getString(0).endsWith(".bmp") ||
        r.getString(0).endsWith(".jpg")))
  }

  test("filters on other columns run below the model; the model's own columns stay above") {
    val out = matMul.transform(numbers(20)).where(col("id") >= 15 && col("y").isNotNull)
    val optimized = out.queryExecution.optimizedPlan
    val node = optimized.collect { case e: NativeEval => e }.head
    assert(node.child.collect { case f: org.apache.spark.sql.catalyst.plans.logical.Filter => f }.nonEmpty,
      optimized.treeString)
    assert(out.collect().map(_.getInt(0)).sorted.toSeq == (15 until 20))
  }

  test("a self-join of a transformed DataFrame resolves") {
    val out = matMul.transform(numbers(6))
    val joined = out.as("a").join(out.as("b"), col("a.id") === col("b.id")).select("a.id", "a.y", "b.y")
    val rows = joined.collect()
    assert(rows.length == 6 && rows.forall(r => r.getSeq[Float](1) == r.getSeq[Float](2)))
    // Without a join, the renaming projection is optimized away.
    assert(execs(out).length == 1 && !out.queryExecution.executedPlan.toString.contains("Project"))
  }

  test("a Structured Streaming file source goes through TFImageTransformer and DeepImageFeaturizer, each file once") {
    val in = Files.createTempDirectory("sparkdl-stream-in-")
    val out = Files.createTempDirectory("sparkdl-stream-out-").resolve("table")
    val checkpoint = Files.createTempDirectory("sparkdl-stream-ckpt-")
    val pictures = Files.createTempDirectory("sparkdl-stream-pics-")
    val written = TestImages.writeLossless(pictures) :+ TestImages.writeJpeg(pictures)
    def arrive(files: Seq[java.io.File]): Unit = files.foreach { f =>
      // Written beside, then moved in: the source never sees half a file.
      val tmp = in.resolve(s".${f.getName}.tmp")
      Files.copy(f.toPath, tmp)
      Files.move(tmp, in.resolve(f.getName))
    }
    val binaryFile = spark.read.format("binaryFile").load(pictures.toString).schema
    def runOnce(): Unit = {
      val stream = spark.readStream.format("binaryFile").schema(binaryFile).load(in.toString)
      val featurized = new DeepImageFeaturizer().setInputCol("content").setOutputCol("f").setModelName("MobileNetV2")
        .transform(means("content").transform(stream))
      val q = featurized.select("path", "v", "f", "f_error").writeStream.format("parquet")
        .option("checkpointLocation", checkpoint.toString).trigger(Trigger.AvailableNow()).start(out.toString)
      try q.awaitTermination()
      finally q.stop()
      assert(q.exception.isEmpty, q.exception)
    }
    arrive(written.take(2))
    runOnce()
    arrive(written.drop(2))
    runOnce()
    val rows = spark.read.parquet(out.toString).collect()
    assert(rows.length == written.length, rows.mkString("\n"))
    assert(rows.map(_.getString(0)).distinct.length == written.length)
    assert(rows.forall(r => !r.isNullAt(1) && !r.isNullAt(2) && r.isNullAt(3)), rows.mkString("\n"))
    assert(rows.forall(_.getAs[org.apache.spark.ml.linalg.Vector](2).size == 1280))
  }

  test("outputs keep the model's dtype; vectors and images are built natively") {
    val schema = matMul.transformSchema(numbers(1).schema)
    assert(schema("y").dataType == ArrayType(FloatType, containsNull = false))
    val images = ImageReader.readImages(spark, dir.toString)
    val arr = means("image").setOutputMode("array").transform(images)
    assert(arr.schema("v").dataType == ArrayType(FloatType, containsNull = false))
    val vec = means("image").transform(images)
    assert(vec.schema("v").dataType == org.apache.spark.ml.linalg.SQLDataTypes.VectorType)
    val a = arr.select("image.origin", "v").collect().map(r => r.getString(0) -> r.getSeq[Float](1)).toMap
    val v = vec.select("image.origin", "v").collect().map(r =>
      r.getString(0) -> r.getAs[org.apache.spark.ml.linalg.Vector](1)).toMap
    assert(a.size == 5 && a.keySet == v.keySet)
    a.foreach { case (k, xs) =>
      assert(xs.length == 3 && v(k).size == 3)
      xs.zip(v(k).toArray).foreach { case (x, y) => assert(x.toDouble == y) }
    }
  }

  test("a bad row gets a null and its reason; a model failing on every row or on its own fails the task") {
    import spark.implicits._
    val df =
      Seq((1, Seq(1.0, 2.0, 3.0)), (2, Seq(Double.NaN, 0.0, 0.0)), (3, null), (4, Seq(4.0, 5.0, 6.0))).toDF("id", "x")
    val checked = new TFTransformer().setGraph(TinyGraphs.checkNumerics)
      .setInputMapping(Map("x" -> "x:0")).setOutputMapping(Map("y:0" -> "y"))
    val rows = checked.transform(df).orderBy("id").collect()
    assert(rows.length == 4)
    assert(rows(0).getSeq[Float](2) == Seq(1f, 2f, 3f) && rows(0).isNullAt(3))
    assert(rows(1).isNullAt(2) && rows(1).getString(3).contains("not finite"), rows(1))
    assert(rows(2).isNullAt(2) && rows(2).getString(3).contains("null"), rows(2))
    assert(rows(3).getSeq[Float](2) == Seq(4f, 5f, 6f))

    val allBad = Seq((1, Seq(Double.NaN, 0.0, 0.0)), (2, Seq(0.0, Double.PositiveInfinity, 0.0))).toDF("id", "x")
    val e1 = intercept[SparkException](checked.transform(allBad.coalesce(1)).collect())
    assert(e1.getMessage.contains("not finite") && e1.getMessage.contains("failed on each of the 2 rows"),
      e1.getMessage)

    val broken = new TFTransformer().setGraph(TinyGraphs.uninitialized)
      .setInputMapping(Map("x" -> "x:0")).setOutputMapping(Map("y:0" -> "y"))
    val e2 = intercept[SparkException](broken.transform(df).collect())
    assert(e2.getMessage.contains("uninitialized"), e2.getMessage)
  }

  test("the model is broadcast once per stage instance, whatever the number of transform() calls") {
    def broadcastIds(df: DataFrame): Seq[Long] = df.queryExecution.analyzed.collect {
      case e: NativeEval => e.op
    }.collect { case r: RunModelOp => r.model.id }
    val t = matMul
    val ids = (1 to 3).flatMap(_ => broadcastIds(t.transform(numbers(3))))
    assert(ids.length == 3 && ids.distinct.length == 1, ids)
    val images = ImageReader.readImages(spark, dir.toString)
    val f = new DeepImageFeaturizer().setInputCol("image").setOutputCol("f").setModelName("MobileNetV2")
    val fids = (1 to 2).flatMap(_ => broadcastIds(f.transform(images)))
    assert(fids.length == 2 && fids.distinct.length == 1, fids)
  }

  test("1000 model batches and a limit() that stops early leave no Arrow memory behind") {
    val before = NativeBatches.allocatedBytes
    val out = matMul.setBatchSize(1).transform(numbers(1000).coalesce(2)).collect()
    assert(out.length == 1000 && out.forall(r => !r.isNullAt(3)))
    val limited = matMul.setBatchSize(7).transform(numbers(500).coalesce(1)).limit(5).collect()
    assert(limited.length == 5)
    assert(NativeBatches.allocatedBytes == before)
  }

  test("a job cancelled while its batches are in flight leaves no Arrow memory behind") {
    val sc = spark.sparkContext
    val before = NativeBatches.allocatedBytes
    val group = s"cancel-${System.nanoTime()}"
    val taskEnded = new CountDownLatch(1)
    val listener = new SparkListener {
      override def onTaskEnd(e: org.apache.spark.scheduler.SparkListenerTaskEnd): Unit =
        if (e.taskInfo.killed || e.reason.isInstanceOf[org.apache.spark.TaskKilled]) taskEnded.countDown()
    }
    CancelGate.reset()
    // Row 60 blocks (after eight batches of 7 went through the model) until the task is killed.
    val gate = org.apache.spark.sql.functions.udf((id: Int) => { if (id == 60) CancelGate.block(); id })
    val input = numbers(200).coalesce(1).withColumn("id", gate(col("id")))
    val out = matMul.setBatchSize(7).transform(input)
    sc.addSparkListener(listener)
    val failure = new java.util.concurrent.atomic.AtomicReference[Throwable]()
    val job = new Thread(() => {
      sc.setJobGroup(group, "cancelled under test", interruptOnCancel = true)
      try out.collect()
      catch { case e: Throwable => failure.set(e) }
      finally sc.clearJobGroup()
    })
    try {
      job.start()
      assert(CancelGate.reached.await(120, TimeUnit.SECONDS), "the job never reached its gate")
      assert(NativeBatches.allocatedBytes > before, "no batch was in flight when the job was cancelled")
      sc.cancelJobGroup(group)
      job.join(120000)
      assert(failure.get() != null && failure.get().getMessage.contains("cancel"), failure.get())
      // The task's completion listeners (which close its batches) run before its end is reported.
      assert(taskEnded.await(120, TimeUnit.SECONDS), "the killed task never ended")
      assert(NativeBatches.allocatedBytes == before)
    } finally {
      CancelGate.release()
      sc.removeSparkListener(listener)
    }
  }

  test("batches in flight: the next batch is written while one runs; rows, order and errors do not change") {
    import spark.implicits._
    val checked = new TFTransformer().setGraph(TinyGraphs.checkNumerics).setBatchSize(3)
      .setInputMapping(Map("x" -> "x:0")).setOutputMapping(Map("y:0" -> "y"))
    val df = (0 until 40).map(i => (i, s"r$i", if (i % 7 == 3) Seq(Double.NaN, 0.0, 0.0) else Seq(i * 0.5, 1.0, 2.0)))
      .toDF("id", "name", "x").coalesce(1)
    // The child is read on the task's thread, whatever runs the batches.
    val onTaskThread = org.apache.spark.sql.functions.udf { (id: Int) =>
      InFlightEvents.record(s"in:$id", org.apache.spark.TaskContext.get() != null); id
    }
    val seen = org.apache.spark.sql.functions.udf { (id: Int) => InFlightEvents.record(s"out:$id", ok = true); id }
    def run(inFlight: Int): (Seq[Row], Seq[String]) = {
      spark.conf.set(org.sparkdl.SparkdlConf.BatchesInFlight.key, inFlight.toString)
      try {
        InFlightEvents.reset()
        val out = checked.transform(df.withColumn("id", onTaskThread(col("id")))).withColumn("id", seen(col("id")))
        val rows = out.collect().toSeq
        (rows, InFlightEvents.events)
      } finally spark.conf.unset(org.sparkdl.SparkdlConf.BatchesInFlight.key)
    }
    val (one, oneEvents) = run(1)
    assert(one.map(_.getInt(0)) == (0 until 40) && one.map(_.getString(1)) == (0 until 40).map(i => s"r$i"))
    assert(one.count(r => !r.isNullAt(4)) == 6 && one.filter(r => !r.isNullAt(4)).forall(
      _.getString(4).contains("not finite")))
    // One at a time: the first batch's rows are out before the second batch is written.
    assert(oneEvents.indexOf("out:0") < oneEvents.indexOf("in:3"), oneEvents.take(12))
    for (k <- Seq(2, 3)) {
      val (rows, events) = run(k)
      assert(rows.map(_.toString) == one.map(_.toString), s"inFlight=$k") // as text: NaN inputs are not == themselves
      assert(!InFlightEvents.offTaskThread, s"inFlight=$k read the child off the task's thread")
      // k batches of 3 are written before the first row comes out.
      assert(events.indexOf(s"in:${3 * k - 1}") < events.indexOf("out:0"), s"inFlight=$k: ${events.take(12)}")
      assert(events.indexOf("out:0") < events.indexOf(s"in:${3 * k}"), s"inFlight=$k: ${events.take(12)}")
    }
    spark.conf.set(org.sparkdl.SparkdlConf.BatchesInFlight.key, "0")
    val err =
      try intercept[IllegalArgumentException](checked.transform(df).collect()).getMessage
      finally spark.conf.unset(org.sparkdl.SparkdlConf.BatchesInFlight.key)
    assert(err.contains(org.sparkdl.SparkdlConf.BatchesInFlight.key) && err.contains("'0'"), err)
  }

  test("SQL metrics count rows, batches and native time") {
    val out = matMul.setBatchSize(4).transform(numbers(10).coalesce(1))
    out.collect()
    val e = execs(out).head
    assert(e.metrics("numOutputRows").value == 10)
    assert(e.metrics("numBatches").value == 3)
    assert(e.metrics("nativeTime").value > 0)
  }

  test("computed inputs: file paths read on the executors as the batch is written") {
    val paths = spark.read.format("binaryFile").load(dir.toString).select(col("path"), lit(1).as("k"))
    val out = means("path").transform(paths).select("path", "k", "v").collect()
    assert(out.length == 5 && out.forall(r => r.getInt(1) == 1 && !r.isNullAt(2)))
    val rows: Seq[Row] = out.toSeq
    assert(rows.map(_.getString(0)).distinct.length == 5)
  }

  test("a batch ends early once its images reach spark.sparkdl.batch.maxBytes; results do not change") {
    val files = spark.read.format("binaryFile").load(dir.toString).coalesce(1)
    val t = means("content").setBatchSize(64)
    def run(): (Map[String, Seq[Double]], Long) = {
      val out = t.transform(files)
      val rows = out.collect().map(r =>
        r.getAs[String]("path") -> r.getAs[org.apache.spark.ml.linalg.Vector]("v").toArray.toSeq).toMap
      (rows, execs(out).head.metrics("numBatches").value)
    }
    val (whole, oneBatch) = run()
    spark.conf.set("spark.sparkdl.batch.maxBytes", "1")
    val (split, batches) =
      try run()
      finally spark.conf.unset("spark.sparkdl.batch.maxBytes")
    assert(oneBatch == 1 && batches == 5, s"$oneBatch, $batches")
    assert(split == whole && whole.size == 5)
  }
}

/** What the in-flight test's UDFs saw, in order (one JVM in local mode). */
object InFlightEvents {
  private val seen = new java.util.concurrent.ConcurrentLinkedQueue[String]()
  @volatile var offTaskThread = false
  def reset(): Unit = { seen.clear(); offTaskThread = false }
  def record(e: String, ok: Boolean): Unit = { if (!ok) offTaskThread = true; seen.add(e) }
  def events: Seq[String] = { import scala.jdk.CollectionConverters._; seen.asScala.toSeq }
}

/** Holds a task at a row until it is interrupted (a job cancellation) or released. */
object CancelGate {
  @volatile var reached = new CountDownLatch(1)
  @volatile private var open = new CountDownLatch(1)
  def reset(): Unit = { reached = new CountDownLatch(1); open = new CountDownLatch(1) }
  def block(): Unit = { reached.countDown(); open.await() }
  def release(): Unit = open.countDown()
}
