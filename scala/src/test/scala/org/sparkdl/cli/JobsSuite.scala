package org.sparkdl.cli

import java.awt.image.BufferedImage
import java.nio.file.{Files, Path}
import java.util.concurrent.ConcurrentLinkedQueue
import javax.imageio.ImageIO

import scala.jdk.CollectionConverters._

import org.apache.spark.scheduler.{SparkListener, SparkListenerStageCompleted, SparkListenerTaskEnd}
import org.apache.spark.sparkdl.ListenerBusAccess
import org.apache.spark.sql.functions.spark_partition_id
import org.scalatest.funsuite.AnyFunSuite

import org.sparkdl.SharedSpark

/**
 * The command-line jobs split their images so that progress (finished tasks of the running
 * stages, see python/sparkdl/cli/progress.py) moves in steps of at most 5%. Counted in tasks and
 * rows, never in time.
 */
class JobsSuite extends AnyFunSuite with SharedSpark {

  private def pictures(n: Int, dir: Path = Files.createTempDirectory("sparkdl-jobs-"), tint: Int = 0): Path = {
    val rnd = new scala.util.Random(n)
    (0 until n).foreach { i =>
      val img = new BufferedImage(32, 32, BufferedImage.TYPE_3BYTE_BGR)
      for (y <- 0 until 32; x <- 0 until 32) img.setRGB(x, y, tint | rnd.nextInt(0x404040))
      ImageIO.write(img, "png", dir.resolve(f"p$i%03d.png").toFile)
    }
    dir
  }

  /** (stage id, rows written) of every task that `body` runs. */
  private def tasksOf(body: => Unit): Seq[(Int, Long)] = {
    val tasks = new ConcurrentLinkedQueue[(Int, Long)]()
    listening(new SparkListener {
      override def onTaskEnd(e: SparkListenerTaskEnd): Unit =
        tasks.add(e.stageId -> Option(e.taskMetrics).map(_.outputMetrics.recordsWritten).getOrElse(0L))
    })(body)
    tasks.asScala.toSeq
  }

  private def listening(listener: SparkListener)(body: => Unit): Unit = {
    val sc = spark.sparkContext
    ListenerBusAccess.waitUntilEmpty(sc)
    sc.addSparkListener(listener)
    try body
    finally {
      ListenerBusAccess.waitUntilEmpty(sc)
      sc.removeSparkListener(listener)
    }
  }

  test("workPartitions: at least 20 (5% steps), full waves of the cores, never more than the images") {
    assert(Jobs.workPartitions(2624, 2) == 20)
    assert(Jobs.workPartitions(1000, 3) == 21) // 7 full waves on 3 cores
    assert(Jobs.workPartitions(1000, 16) == 32) // two tasks per core
    assert(Jobs.workPartitions(1000, 1) == 20)
    assert(Jobs.workPartitions(12, 2) == 12) // one image per task
    assert(Jobs.workPartitions(0, 2) == 1)
  }

  test("spread: the same rows in 20 even partitions on 2 cores") {
    assert(spark.sparkContext.defaultParallelism == 2)
    val df = spark.range(48).toDF("path").repartition(2)
    val spread = Jobs.spread(df)
    assert(spread.rdd.getNumPartitions == 20)
    val sizes = spread.groupBy(spark_partition_id()).count().collect().map(_.getLong(1))
    assert(sizes.length == 20 && sizes.sum == 48 && sizes.max - sizes.min <= 1, sizes.mkString(","))
    assert(spread.collect().map(_.getLong(0)).sorted.toSeq == (0L until 48L))
  }

  test("featurize runs in 20 tasks of at most 2 of 30 images: each finished task is at most 5%") {
    val dir = pictures(30)
    val out = dir.resolve("features.parquet").toString
    val tasks = tasksOf(Jobs.write(Jobs.featurize(spark, "MobileNetV2", dir.toString), out))
    val writing = tasks.filter(_._2 > 0).map(_._1).distinct
    assert(writing.size == 1, tasks)
    val stage = tasks.filter(_._1 == writing.head)
    assert(stage.size == 20, stage)
    assert(stage.map(_._2).sum == 30 && stage.map(_._2).max <= 2, stage)
    assert(spark.read.parquet(out).where("features IS NOT NULL").count() == 30)
  }

  test("train featurizes in 20 tasks, and the classifier's iterations do not each run 20") {
    val root = Files.createTempDirectory("sparkdl-train-")
    pictures(24, Files.createDirectory(root.resolve("red")), 0xb00000)
    pictures(24, Files.createDirectory(root.resolve("blue")), 0x0000b0)
    val taskCounts = new ConcurrentLinkedQueue[Int]()
    var result: TrainResult = null
    listening(new SparkListener {
      override def onStageCompleted(e: SparkListenerStageCompleted): Unit = taskCounts.add(e.stageInfo.numTasks)
    }) {
      result = Jobs.train(spark, Jobs.labelledImages(spark, root.toString, None), "MobileNetV2", None, "logistic",
        0.01, 0.25, 42L)
    }
    val counts = taskCounts.asScala.toSeq
    val nTrain = result.trainCount
    assert(nTrain >= 20 && counts.contains(20), counts) // the training images: 20 tasks
    assert(result.accuracy == 1.0)
    // Wide stages: caching and featurizing the training rows, featurizing the validation rows and
    // the four metrics over them (two stages each), about 14, however many iterations the
    // classifier makes. Before the features were shuffled back to one partition per core, each
    // of LogisticRegression's iterations (dozens here) added another 20-task stage.
    val wide = counts.count(_ >= 12)
    assert(wide <= 16 && counts.length - wide > 40, counts)
  }
}
