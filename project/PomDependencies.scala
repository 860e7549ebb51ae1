import scala.xml.{Elem, Node}

/** A `<dependency>` of a POM. */
case class PomDependency(group: String, artifact: String, version: String, scope: String)

/** Edits of the POM that sbt writes (`pomPostProcess`). */
object PomDependencies {

  /** `pom` with `deps` appended to its `<dependencies>` (made when it has none). */
  def add(pom: Node, deps: Seq[PomDependency]): Node = {
    val nodes = deps.map { d =>
      <dependency>
        <groupId>{d.group}</groupId>
        <artifactId>{d.artifact}</artifactId>
        <version>{d.version}</version>
        <scope>{d.scope}</scope>
      </dependency>
    }
    pom match {
      case project: Elem if project.child.exists(_.label == "dependencies") =>
        project.copy(child = project.child.map {
          case d: Elem if d.label == "dependencies" => d.copy(child = d.child ++ nodes)
          case other => other
        })
      case project: Elem => project.copy(child = project.child :+ <dependencies>{nodes}</dependencies>)
      case other => sys.error(s"pomPostProcess: the POM's root is not an element: $other")
    }
  }
}
