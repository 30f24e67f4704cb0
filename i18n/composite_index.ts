<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1">
<context>
    <name>BuilderDock</name>
    <message>
        <location filename="../ui/builder_dock.ui" line="20"/>
        <source>Composite Index Builder</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="44"/>
        <source>Start a new, empty recipe (one theme with one issue). The current set-up is replaced.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="47"/>
        <source>New</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="54"/>
        <source>Open a recipe (JSON file). Its layers are added to the project when they are not there yet.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="57"/>
        <source>Open…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="64"/>
        <source>Save the set-up as a recipe (JSON file). Paths are written relative to the recipe's folder, so the folder can be moved or shared; run it again next year with the Run assessment from recipe algorithm.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="67"/>
        <source>Save…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="87"/>
        <source>Open the user guide (docs/user_guide.md, shipped with the plugin).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="90"/>
        <source>Help</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="104"/>
        <source>Name</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="111"/>
        <source>Title of the assessment: shown in the project, the run log and the printed layout.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="114"/>
        <source>e.g. Strategic assessment 2025</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="121"/>
        <source>Period</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="128"/>
        <source>The period the data cover (e.g. 2025 or 2024-25); shown in the layout and used to label comparisons.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="131"/>
        <source>e.g. 2025</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="147"/>
        <source>Indicators</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="150"/>
        <source>Themes, issues and, for each issue, the victims, offenders and locations layers and how each is measured.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="176"/>
        <source>Add a theme (a group of issues, e.g. Violence and vulnerability).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="179"/>
        <source>+ Theme</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="186"/>
        <source>Add an issue (e.g. Residential burglary) to the selected theme.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="189"/>
        <source>+ Issue</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="196"/>
        <source>Add a role to the selected issue: victims (where victims live), offenders (where offenders live) or locations (where incidents happen).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="199"/>
        <source>+ Role</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="222"/>
        <source>Move the selected theme or issue up (an issue at the top of its theme moves to the end of the theme above).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="225"/>
        <source>▲</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="232"/>
        <source>Move the selected theme or issue down (an issue at the bottom of its theme moves to the start of the theme below).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="235"/>
        <source>▼</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="242"/>
        <source>Remove the selected theme, issue or role (and everything under it).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="245"/>
        <source>Remove</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="260"/>
        <source>Themes contain issues; each issue has up to three roles. Double-click a theme or issue to rename it; the weight column is its weight within its parent.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="273"/>
        <source>Theme / issue / role</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="278"/>
        <source>Weight</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="293"/>
        <source>Select a theme, issue or role to edit it.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="310"/>
        <source>Label</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="317"/>
        <source>The readable name shown in the map legend and the layout.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="324"/>
        <source>Field name</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="331"/>
        <source>Short name used for the output fields: lowercase letters, digits and _, starting with a letter. Made from the label until you edit it.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="345"/>
        <source>Weight within its parent (relative: 2 counts twice as much as 1; 0 leaves it out).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="371"/>
        <source>Layer</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="378"/>
        <source>Point layer of this role: victims' or offenders' home locations, or incident locations. Only point layers of the project are listed.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="385"/>
        <source>Where the recipe reads this role from when it is not a layer of the project (a file to import, or a file that is missing).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="395"/>
        <source>Filter</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="402"/>
        <source>QGIS expression selecting this issue's points in the layer, e.g. "issue" = 'burglary'. Empty: every point.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="409"/>
        <source>Weight field</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="416"/>
        <source>Optional numeric field to sum instead of counting points (e.g. a harm score). Empty: each point counts 1.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="423"/>
        <source>Measure</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="430"/>
        <source>How the counts become an indicator: volume (count), rate per N of the denominator, empirical Bayes rate (steadier where few people live), location quotient, density per km², ...</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="437"/>
        <source>Denominator</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="446"/>
        <source>For rates: the zone field to divide by (population, apportioned from the population layer, or another field of the zones layer).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="456"/>
        <source>per</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="463"/>
        <source>Rates are given per this many (e.g. per 1,000 residents).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="481"/>
        <source>Scaling</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="488"/>
        <source>How the indicator is put on a common scale before combining: z-score, min-max, percentile, rank, ...</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="495"/>
        <source>Direction</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="502"/>
        <source>Whether a higher value means more need (higher is worse) or less need (lower is worse: the scale is reversed).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="516"/>
        <source>Weight of this role within its issue (relative: 2 counts twice as much as 1).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="535"/>
        <source>Missing values</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="542"/>
        <source>A zone with no value for this role (an empty field, or a rate where the denominator is 0): leave the zone out of the index, count it as 0, or give it the average of the other zones.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="554"/>
        <source>Geography</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="557"/>
        <source>Study area, the zones the index is built on (a grid or your own zones), population and the areas to summarise by.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="580"/>
        <source>Study area</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="587"/>
        <source>Polygon layer of the area being assessed (e.g. the district boundary). A grid covers it.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="594"/>
        <source>Analysis CRS</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="601"/>
        <source>Projected coordinate system of the analysis (metres), e.g. EPSG:27700 British National Grid. Empty: the study area's. A geographic CRS (degrees) is refused.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="608"/>
        <source>Zones</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="615"/>
        <source>What the index is built on: a regular grid over the study area (not tied to administrative boundaries), your own zones layer, or the hotspot zones of an earlier run.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="622"/>
        <source>Cell shape</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="629"/>
        <source>Square cells, or hexagons (flat-topped or pointy-topped): hexagons have six equal neighbours and read more naturally as a map.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="636"/>
        <source>Cell size</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="643"/>
        <source>Cell width in map units of the analysis CRS (metres): the side of a square, the flat-to-flat width of a hexagon.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="646"/>
        <source> m</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="668"/>
        <source>Estimated number of cells: the study area's area divided by one cell's area. Smaller cells show more detail but have fewer incidents each.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="678"/>
        <source>Zones layer</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="685"/>
        <source>Polygon layer of the zones to build the index on (e.g. LSOAs, or the hotspot zones of an earlier run).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="692"/>
        <source>Zone id field</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="699"/>
        <source>Field with a unique id for each zone (kept in the outputs so they can be joined back).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="706"/>
        <source>Population</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="713"/>
        <source>Optional polygon layer with resident counts (e.g. Census LSOAs), apportioned to the zones by area; needed for rates.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="720"/>
        <source>Population field</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="727"/>
        <source>Numeric field with the resident count of each population polygon.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="734"/>
        <source>Areas</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="741"/>
        <source>Optional polygon layer of the areas to summarise the index by (e.g. wards or constituencies); used for the area ranking, the gap and the atlas pages.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="748"/>
        <source>Area name field</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="755"/>
        <source>Field with each area's name, as it should appear in tables and the layout.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="778"/>
        <source>Output &amp;&amp; log</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="781"/>
        <source>Where results are written, how the index combines its parts, the layout export and the run log.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="804"/>
        <source>Output folder</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="811"/>
        <source>Folder for results.gpkg, assessment.qgz, map.png, the layout PDF and run.log. The recipe that ran is saved there too (recipe.json).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="818"/>
        <source>Combine roles</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="825"/>
        <source>How an issue's roles combine: mean (weighted), sum, geometric (a low score on one side is not fully offset by the others) or imd (exponential transform of ranks, as in the English IMD).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="832"/>
        <source>Combine issues</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="839"/>
        <source>How a theme's issues combine (see Combine roles).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="846"/>
        <source>Combine themes</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="853"/>
        <source>How the themes combine into the composite score (see Combine roles).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="860"/>
        <source>Also find statistically significant hotspots of the composite score (Getis-Ord Gi*, queen contiguity, false discovery rate corrected) and outline them as hotspot zones.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="863"/>
        <source>Find hotspots of the index</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="877"/>
        <source>Export the assessment layout (PDF with the overview and one page per area) from the last run's results, with the Export assessment layout algorithm.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="880"/>
        <source>Export layout…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="887"/>
        <source>Open the stages in Processing: run several recipes in batch (e.g. one per year), or open the shipped stages model in the Graphical Modeler.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="890"/>
        <source>Processing</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="900"/>
        <source>Open the last run's log file (run.log in the output folder).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="903"/>
        <source>run.log</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="912"/>
        <source>Messages of the current or last run; the same text is written to run.log in the output folder.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="929"/>
        <source>Checks</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="942"/>
        <source>What must be fixed before Run (errors) and what to be aware of (warnings). Click one to go to the setting at fault.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="954"/>
        <source>Progress of the run.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="964"/>
        <source>Check the data, then run every stage and add the styled results to the project in one group. Enabled when the checks find no error.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="967"/>
        <source>Run</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="977"/>
        <source>Stop the run after the current step. Nothing is added to the project and the files this run wrote are removed (run.log stays).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/builder_dock.ui" line="980"/>
        <source>Cancel</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>CompositeIndex</name>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="34"/>
        <source>Locations</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="34"/>
        <source>Offenders</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="34"/>
        <source>Victims</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="80"/>
        <source>The field's own number, unchanged (for a zone layer that already holds a score or rate).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="80"/>
        <source>Value as it is</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="82"/>
        <source>Count (volume)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="82"/>
        <source>How many incidents fall in the zone (or the sum of the weight field): where the demand is.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="84"/>
        <source>Count / denominator x per (e.g. per 1,000 residents): the risk of a resident. Unstable where few people live.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="84"/>
        <source>Rate per population</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="86"/>
        <source>Empirical Bayes rate (smoothed towards the average)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="87"/>
        <source>A rate pulled towards the study area's average, more so where the denominator is small: steadier than the raw rate for small populations.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="89"/>
        <source>Spatial empirical Bayes rate (smoothed with neighbours)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="90"/>
        <source>A rate pulled towards the rate of the zone's neighbourhood, more so where the denominator is small: steady and still local.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="92"/>
        <source>Location quotient (share compared with the whole area)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="93"/>
        <source>(count / denominator) / (total count / total denominator): above 1 the zone has more of this issue than its share.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="95"/>
        <source>Count per square kilometre of the zone: for zones of different sizes.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="95"/>
        <source>Density per km²</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="97"/>
        <source>Clustering score (Getis-Ord Gi*)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="98"/>
        <source>How much the zone and its neighbours together stand out: the Gi* z-score of the count (or of the rate, with a denominator), or a clustering field as it is.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="103"/>
        <source>z-score (distance from the mean in SDs)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="104"/>
        <source>(value - mean) / standard deviation: keeps the gaps between zones; can be negative.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="106"/>
        <source>Lowest zone 0, highest 1 (or 'scale to'): keeps the gaps, sensitive to one extreme zone.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="106"/>
        <source>Min-max (0 to 1)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="108"/>
        <source>0 at the given minimum, 1 at the given maximum: scores comparable between runs.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="108"/>
        <source>Min-max on a fixed range</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="110"/>
        <source>(value - given mean) / given SD: scores comparable between runs.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="110"/>
        <source>z-score on a fixed mean and SD</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="112"/>
        <source>Percentile (1-100)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="112"/>
        <source>The zone's position in the ranking, 100 for the highest need: ignores the size of the gaps.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="114"/>
        <source>Rank (1 to number of zones)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="114"/>
        <source>Zones ranked, the highest need ranked highest.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="115"/>
        <source>Exponential transform of the rank (as the IMD)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="116"/>
        <source>The rank stretched so the highest-need zones stand out (0-100, about 10 % of zones above 50), as the English Indices of Deprivation do.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="118"/>
        <source>Counts the zone only when the value reaches the given threshold.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="118"/>
        <source>Threshold (1 at or beyond it, else 0)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="120"/>
        <source>No scaling (raw values)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="120"/>
        <source>The measured values as they are: only for indicators already on one scale.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="124"/>
        <source>Higher is worse</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="124"/>
        <source>More of it means more need (e.g. crimes).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="125"/>
        <source>Less of it means more need (e.g. guardianship, street lighting): the indicator is turned round.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="125"/>
        <source>Lower is worse</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="129"/>
        <source>A zone with no value (an empty field or a zero denominator) gets no index score and is counted as excluded.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="129"/>
        <source>Leave the zone out</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="131"/>
        <source>A zone with no value scores as if it had none of it.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="131"/>
        <source>Count it as 0</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="132"/>
        <source>A zone with no value gets the mean of the other zones.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="132"/>
        <source>Give it the average</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="135"/>
        <source>The weighted average of the parts.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="135"/>
        <source>Weighted mean</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="136"/>
        <source>The parts added up with their weights.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="136"/>
        <source>Weighted sum</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="137"/>
        <source>A low part pulls the whole down (less compensation); needs parts that are always above zero.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="137"/>
        <source>Weighted geometric mean</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="139"/>
        <source>IMD method (exponential transform of ranks, then weighted sum)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="140"/>
        <source>Each part ranked and transformed as in the English Indices of Deprivation, then added with its weight.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="145"/>
        <source>Grid over the study area</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="145"/>
        <source>Square or hexagonal cells of one size cover the study area.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="147"/>
        <source>A polygon layer (LSOAs, wards, beats, or the hotspot zones of an earlier run).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="147"/>
        <source>Zones layer</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="167"/>
        <source>Hexagon (flat top)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="167"/>
        <source>Hexagon (pointy top)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="167"/>
        <source>Square</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="169"/>
        <source>Cells that intersect the study area</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="169"/>
        <source>Cells whose centre is inside the study area</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="170"/>
        <source>Cells clipped to the study area</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="189"/>
        <source>Queen contiguity (shared edge or corner)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="190"/>
        <source>Fixed distance band</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="190"/>
        <source>Rook contiguity (shared edge)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="191"/>
        <source>Automatic (optimised scale)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="191"/>
        <source>K nearest neighbours</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="198"/>
        <source>Population share: the top group holds that share of the residents; means weighted by population</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="200"/>
        <source>Zone share: the top group holds that share of the zones; each zone weighs the same</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="203"/>
        <source>Fixed cohort: the first period's top group, followed over time, against everyone else</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="204"/>
        <source>Re-selected: each period's own top group against everyone else</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="205"/>
        <source>Worst against average: the first period's top group against the whole area's average</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="209"/>
        <source>Generic table</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="209"/>
        <source>police.uk street-level CSV</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="211"/>
        <source>Comma</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="211"/>
        <source>Detect</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="211"/>
        <source>Pipe</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="211"/>
        <source>Semicolon</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="211"/>
        <source>Tab</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="213"/>
        <source>Point</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="216"/>
        <source>Calendar year (yyyy)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="216"/>
        <source>Month (yyyy-mm)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="217"/>
        <source>Financial year, April to March (yyyy/yy)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="217"/>
        <source>No period field</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="220"/>
        <source>None: the issue is the category, in lowercase_with_underscores</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/core/vocab.py" line="221"/>
        <source>police.uk crime types (resources/presets/policeuk_crime_types.csv)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_checks.py" line="98"/>
        <source>choose where results go</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_checks.py" line="98"/>
        <source>no output folder</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_checks.py" line="101"/>
        <source>about {cells} cells: the run will be slow</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_checks.py" line="102"/>
        <source>use bigger cells</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_checks.py" line="115"/>
        <source>add the victims, offenders and locations layers (Layer ▸ Add Layer) or open a recipe</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_checks.py" line="115"/>
        <source>the project has no layers</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_checks.py" line="119"/>
        <source>the project has no point layer</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_checks.py" line="120"/>
        <source>add the point layers of victims, offenders and locations</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_checks.py" line="128"/>
        <source>{source} is not a layer of the project</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_checks.py" line="129"/>
        <source>the recipe reads it from its file; add it to the project to pick fields</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_checks.py" line="133"/>
        <source>layer {name} is in a geographic CRS ({crs}, degrees)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_checks.py" line="135"/>
        <source>it is reprojected; a projected copy is better</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_dock.py" line="73"/>
        <source>Run recipes in batch (e.g. one per year)…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_dock.py" line="74"/>
        <source>Open the Run recipe dialog…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_dock.py" line="75"/>
        <source>Open the stages model in the Graphical Modeler…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_dock.py" line="227"/>
        <source>Select an issue first, then add its victims, offenders or locations.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_dock.py" line="269"/>
        <source>Choose a study area to see how many cells the grid has.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_dock.py" line="272"/>
        <source>≈ {cells} cells over {area} km²</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_dock.py" line="305"/>
        <source>Check the data, then run every stage and add the styled results to the project in one group.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_dock.py" line="307"/>
        <source>Fix the {count} error(s) under Checks first.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_dock.py" line="352"/>
        <source>The Composite Index set-up kept in this project is damaged; starting a new one.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_dock.py" line="404"/>
        <source>{path} is not a recipe (a JSON object).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_dock.py" line="419"/>
        <source>{name} cannot be shown in the Builder: </source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_dock.py" line="424"/>
        <source>Opened {name}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_dock.py" line="447"/>
        <source>Recipe saved: {path}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_dock.py" line="463"/>
        <source>Open a recipe</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_dock.py" line="464"/>
        <source>Recipes (*.json)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_dock.py" line="469"/>
        <source>Save the recipe</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_dock.py" line="499"/>
        <source>Run the assessment (with areas) first; the layout is made from its results.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_dock.py" line="534"/>
        <source>No stages model is shipped in this version; the user guide explains how to build one in the Graphical Modeler.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_dock.py" line="557"/>
        <source>Composite Index — user guide</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_dock.py" line="584"/>
        <source>Composite Index</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_problems.py" line="110"/>
        <source>Error</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_problems.py" line="110"/>
        <source>Note</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_problems.py" line="123"/>
        <source>Something below needs attention</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_problems.py" line="137"/>
        <source>Checks: {errors} to fix before Run, {notes} note(s)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_problems.py" line="140"/>
        <source>Checks: ready to run, {notes} note(s)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_problems.py" line="142"/>
        <source>Checks: ready to run</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_run.py" line="162"/>
        <source>A Composite Index run is already going: wait for it or press Cancel.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_run.py" line="166"/>
        <source>The Composite Index Processing provider is not loaded.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_run.py" line="171"/>
        <source>Fix the {count} problem(s) listed under Checks before running.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_run.py" line="185"/>
        <source>Cannot write next to the output folder {folder}: {error}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_run.py" line="200"/>
        <source>Writing to {staging}; moved to {folder} when the run has finished.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_run.py" line="239"/>
        <source>The project was closed during the run: the results were not added to it; they are in {folder} (assessment.qgz).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_run.py" line="242"/>
        <source>The project was closed during the run; the results are in {folder} (open assessment.qgz).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_run.py" line="253"/>
        <source>the results could not be added to the project: {error}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_run.py" line="257"/>
        <source>Added {count} layer(s) to the project; results in {folder}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_run.py" line="258"/>
        <source>; stages skipped: {stages}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_run.py" line="260"/>
        <source>Assessment finished: {count} layers added.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_run.py" line="268"/>
        <source>Cancelled by the user: nothing was added to the project and the output folder was not touched.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_run.py" line="271"/>
        <source>Run cancelled: nothing was added to the project and the output folder was not touched (log: {log}).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_run.py" line="276"/>
        <source>Failed: {detail}. Nothing was added to the project and the output folder was not touched.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_run.py" line="279"/>
        <source>The run failed: {detail} (log: {log} in the output folder, and the Output &amp; log tab)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_run.py" line="298"/>
        <source>Could not move the results into {folder} ({error}); they stay in {staging}.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_run.py" line="320"/>
        <source>Could not write the log into {folder}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_run.py" line="324"/>
        <source>Cancel requested: stopping after the current step.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_view.py" line="86"/>
        <source>Output folder of the assessment</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_view.py" line="90"/>
        <source>Same as the study area</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_view.py" line="100"/>
        <source>Add the {role} role to the selected issue</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_view.py" line="132"/>
        <source>Now: {crs}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_view.py" line="443"/>
        <source>Weight of this theme within the composite (relative: 2 counts twice as much as 1; 0 leaves it out).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/gui/builder_view.py" line="445"/>
        <source>Weight of this issue within its theme (relative: 2 counts twice as much as 1; 0 leaves it out).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/plugin.py" line="18"/>
        <source>&amp;Composite Index</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/plugin.py" line="37"/>
        <source>Composite Index Builder</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/plugin.py" line="39"/>
        <source>Open the Composite Index Builder: set up, check and run an assessment in one window</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/plugin.py" line="46"/>
        <source>Run assessment from recipe…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/plugin.py" line="48"/>
        <source>Run a whole assessment from a recipe file (the Processing dialog of compositeindex:runrecipe)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/aggregate.py" line="173"/>
        <source>Aggregate victims, offenders and locations</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/aggregate.py" line="174"/>
        <source>Geography</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/aggregate.py" line="176"/>
        <source>For one issue, counts where victims live, where offenders live and where it happens, onto zones: a grid made by 'Create analysis grid' (binned by arithmetic, very fast) or any polygon layer (point in polygon). Each role layer is optional (give at least one), with an optional filter expression and an optional weight field (e.g. a harm score).

Output: the zones with every attribute, plus &lt;issue&gt;_victims, &lt;issue&gt;_offenders, &lt;issue&gt;_locations (counts), &lt;issue&gt;_&lt;role&gt;_w (weighted sums, when a weight is given) and &lt;issue&gt;_&lt;role&gt;_kde (quartic kernel density per km2 at the cell centre or the zone's point on surface, when KDE_BANDWIDTH &gt; 0). With a ratio layer (e.g. residents or address points, optionally weighted by population) &lt;issue&gt;_&lt;role&gt;_kde_ratio is the dual kernel ratio, a 'clustering' measure: 1 = as spread as the population, above 1 = more concentrated.

Edge rule: a point exactly on an edge shared by two zones is counted once, in the zone to its east (north for a horizontal edge). Points outside all zones, features without geometry, features left out by the filter and null or non-numeric weights are counted and reported. Polygons or lines in a role layer are replaced by a point on their surface (with a warning); multipoints are split. Overlapping zones are warned about: a point is then counted once in every zone it falls in. Points in another CRS are reprojected to the zones' CRS.

Boundaries matter: police.uk's own 'LSOA code' column is assigned on full-resolution boundaries. Counted on the super-generalised 2011 LSOAs, 84.7 % of one month of West Yorkshire crimes fall in the LSOA police.uk names; the others lie a median 34 m from that LSOA, just across a simplified boundary. Use full-resolution boundaries when exact membership of small areas matters.

Many issues in one pass: give each role layer a category field (&lt;ROLE&gt;_CATEGORY, e.g. the field issue written by 'Import and cleanse incidents', or police.uk's Crime type) and every issue is counted in a single read of the points, into &lt;issue&gt;_&lt;role&gt; fields (ISSUE is then not used). Categories become issues through CATEGORY_MAPPING (a CSV category,issue or a JSON {"category": "issue"} file) or CATEGORY_PRESET (police.uk crime types, 14 issues); with neither, the issue is the category in lowercase_with_underscores. ISSUES (comma-separated) picks and orders the issues; listed issues with no points get zero fields, so every period has the same fields. Points whose category maps to no issue are counted and reported, not counted in zones. The counts are those of one run per issue with a filter on the category.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/aggregate.py" line="212"/>
        <source>Victims (points)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/aggregate.py" line="212"/>
        <source>Victims: filter expression</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/aggregate.py" line="213"/>
        <source>Victims: weight field</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/aggregate.py" line="214"/>
        <source>Victims: category field (many issues in one pass)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/aggregate.py" line="215"/>
        <source>Offenders (points)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/aggregate.py" line="215"/>
        <source>Offenders: filter expression</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/aggregate.py" line="216"/>
        <source>Offenders: weight field</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/aggregate.py" line="217"/>
        <source>Offenders: category field (many issues in one pass)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/aggregate.py" line="218"/>
        <source>Locations (points)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/aggregate.py" line="218"/>
        <source>Locations: filter expression</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/aggregate.py" line="219"/>
        <source>Locations: weight field</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/aggregate.py" line="220"/>
        <source>Locations: category field (many issues in one pass)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/aggregate.py" line="235"/>
        <source>Zones (grid or polygons)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/aggregate.py" line="237"/>
        <source>Issue name (used in field names)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/aggregate.py" line="239"/>
        <source>Categories to issues: preset</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/aggregate.py" line="244"/>
        <source>Categories to issues: mapping table (CSV category,issue or JSON)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/aggregate.py" line="249"/>
        <source>Issues to count, comma-separated (empty: all)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/aggregate.py" line="251"/>
        <source>Kernel density bandwidth in map units (0 = none)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/aggregate.py" line="255"/>
        <source>Kernel ratio: population at risk (points)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/aggregate.py" line="258"/>
        <source>Kernel ratio: population field</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/aggregate.py" line="261"/>
        <source>Kernel ratio: numerator</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/aggregate.py" line="268"/>
        <source>Zones with counts</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/aggregate.py" line="269"/>
        <source>What was counted</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/aggregate.py" line="270"/>
        <source>Issues counted (comma-separated)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/aggregate.py" line="274"/>
        <source>Give at least one of the victims, offenders or locations layers.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/apportion.py" line="114"/>
        <source>Apportion population to zones</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/apportion.py" line="117"/>
        <source>Moves a count field (population, households) from source polygons (e.g. LSOAs) onto zones (e.g. grid cells) by area weighting: each zone gets value x area(source and zone) / area(source) from every source it overlaps. With an ancillary point layer (e.g. address points, optionally weighted) the shares follow the points instead of the area; sources holding no point fall back to area weighting.

Where the zones cover a source completely its value is passed on exactly; the part of the total falling outside all zones is reported as the uncovered remainder. Overlapping zones are reported and normalised so nothing is counted twice. Output: the zones with every attribute plus OUTPUT_FIELD (default population).

Counts in a table keyed by area code (e.g. a census table per LSOA): give the boundaries as SOURCES with their code field (SOURCES_KEY, e.g. LSOA11CD) and the table (TABLE: a CSV or a layer without geometry) with its code field (TABLE_KEY, e.g. 'LSOA Code') and count field (TABLE_FIELD, e.g. Persons); FIELD is then not needed. Numbers stored as text, with or without thousands separators ('1,234'), are read and the log says how many; a value that cannot be read as a number stops the run naming its row and code; empty values are counted and taken as 0. Codes in the table with no boundary, and boundaries with no row in the table, are counted and listed (outputs TABLE_ONLY and BOUNDARY_ONLY). Text values of FIELD are read the same way.

Zones made by 'Create grid' (grid_* fields) are overlaid by grid arithmetic: cell centres are placed in the sources along lattice rows and only the cells a source boundary crosses are clipped, in numpy, so the time grows with cells + source vertices (all England and Wales onto 100 m cells in seconds). The areas are exact, as GEOS's to about 1e-9 of a cell. OVERLAY 'GEOS intersection of every zone' uses GEOS for every zone instead; with ancillary points GEOS is always used.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/apportion.py" line="145"/>
        <source>Source polygons (e.g. LSOAs)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/apportion.py" line="147"/>
        <source>Count field to apportion (or a table below)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/apportion.py" line="150"/>
        <source>Area code field of the source polygons (with a table)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/apportion.py" line="153"/>
        <source>Counts by area code: table (CSV or layer without geometry)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/apportion.py" line="156"/>
        <source>Table: area code field</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/apportion.py" line="159"/>
        <source>Table: count field</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/apportion.py" line="164"/>
        <source>Ancillary points, e.g. address points</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/apportion.py" line="167"/>
        <source>Ancillary point weight</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/apportion.py" line="172"/>
        <source>Output field name</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/apportion.py" line="174"/>
        <source>Overlap areas</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/apportion.py" line="175"/>
        <source>Automatic: grid arithmetic for grids made by 'Create grid', else GEOS</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/apportion.py" line="176"/>
        <source>GEOS intersection of every zone</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/apportion.py" line="180"/>
        <source>Zones with apportioned values</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/apportion.py" line="181"/>
        <source>Apportioned total</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/apportion.py" line="182"/>
        <source>Uncovered remainder</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/apportion.py" line="184"/>
        <source>Codes in the table with no boundary</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/apportion.py" line="186"/>
        <source>Boundaries with no row in the table</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/build_index.py" line="65"/>
        <source>Builds a composite index of need on a zone layer (grid cells, LSOAs, wards...).

&lt;b&gt;Index spec&lt;/b&gt;: JSON text, or the path of a .json file, with themes -&gt; issues -&gt; indicators
(or a recipe, or a recipe's themes: their roles read the counts the aggregation wrote,
&amp;lt;issue&amp;gt;_&amp;lt;role&amp;gt;). Each indicator chooses its field, a measure (value, volume, rate,
eb_rate, eb_rate_spatial, location_quotient, density, clustering; default volume), a scaling
(zscore, minmax, minmax_fixed, zscore_fixed, percentile, rank, exponential, threshold, raw;
default zscore), a direction (higher_is_worse / lower_is_worse), a weight and a missing-data
policy (exclude, zero, mean; default zero). Each level combines its children by mean, sum,
geometric or imd (default mean). The defaults are a recipe's: the same choices give the same
index. Every problem in the spec is listed with its place in the JSON (docs/recipe.md).

&lt;b&gt;Without a spec&lt;/b&gt;: choose numeric FIELDS, one SCALING and one AGGREGATION: each field becomes
an indicator of one issue, taken as it is (measure value); a zone with an empty field is left
out of the index (missing exclude).

&lt;b&gt;Outputs&lt;/b&gt;: every scaled indicator (&amp;lt;issue&amp;gt;_&amp;lt;indicator&amp;gt;_s), each issue and theme
sub-index (&amp;lt;name&amp;gt;_idx), ci_score, ci_rank, ci_decile and ci_quintile (1 = highest need),
top_theme, top_issue (the largest contribution; empty in a zone without any recorded incident,
ci_no_incidents = 1) and each theme's share (&amp;lt;theme&amp;gt;_pct). Zones with a zero denominator
are flagged (_zd): a crude rate, location quotient or density is then undefined and the
indicator's missing policy applies; an empirical Bayes rate takes the prior mean. Zones left out
for missing data have ci_excluded = 1 and empty index fields. &lt;b&gt;Fields to write&lt;/b&gt; (advanced):
"results only" leaves out each indicator's own fields (_s, _m, _zd, _pooled) and keeps the
scores, ranks, classes, sub-indices and top theme and issue: 36 columns instead of 120 for 30
indicators on a grid (the log and the report still count the flagged zones).

&lt;b&gt;Small numbers&lt;/b&gt;: a rate on a few residents is noise, so an indicator's
&lt;i&gt;min_denominator&lt;/i&gt; (default 50 for rates, 0 = off) pools zones with fewer: a crude rate
takes the study-area rate, an empirical Bayes rate the prior mean (flagged in _pooled, counted
in the log and the report). The spatial EB rate's local prior is anchored to the study-area rate
(&lt;i&gt;anchor&lt;/i&gt; "global"; "none" = as GeoDa). Zones more than &lt;i&gt;z_warning&lt;/i&gt; (spec key, default
10) standard deviations from an indicator's mean are named in the log and the report.
&lt;b&gt;Ties&lt;/b&gt;: tied zones share one decile, that of the last of them, so deciles 1..d never hold
more than d tenths of the zones. Zones with no recorded incident in any count indicator
(ci_no_incidents = 1) rank below all others, in the lowest-need class (spec "no_incidents":
"lowest"; "score" ranks them by their score).
The report shows correlations, Cronbach's alpha and effective weights. The baseline JSON keeps
the fitted scales, so next year's index can be put on this year's scale (BASELINE_IN).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/build_index.py" line="164"/>
        <source>Build composite index</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/build_index.py" line="165"/>
        <source>Composite index</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/build_index.py" line="180"/>
        <source>Everything (each indicator's scaled and measured value and flags too)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/build_index.py" line="182"/>
        <source>Results only (scores, ranks, classes, sub-indices, top theme and issue)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/build_index.py" line="187"/>
        <source>Zone layer</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/build_index.py" line="189"/>
        <source>Index spec (JSON text or path of a .json file)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/build_index.py" line="192"/>
        <source>Without a spec: indicator fields</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/build_index.py" line="195"/>
        <source>Without a spec: scaling</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/build_index.py" line="198"/>
        <source>Without a spec: aggregation</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/build_index.py" line="201"/>
        <source>Frozen baseline to scale on (JSON)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/build_index.py" line="204"/>
        <source>Baseline of this run (JSON)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/build_index.py" line="207"/>
        <source>Report</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/build_index.py" line="210"/>
        <source>Indicator diagnostics</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/build_index.py" line="213"/>
        <source>Fields to write</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/build_index.py" line="218"/>
        <source>Zones in the index</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/build_index.py" line="219"/>
        <source>Zones left out</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/build_index.py" line="225"/>
        <source>Give an index spec (SPEC), or choose indicator FIELDS.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/build_index.py" line="257"/>
        <source>Reading the zones</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/build_index.py" line="277"/>
        <source>Building the index</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/build_index.py" line="289"/>
        <source>Writing the index layer</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/compare_periods.py" line="65"/>
        <source>Compare periods</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/compare_periods.py" line="66"/>
        <source>Assessment</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/compare_periods.py" line="68"/>
        <source>Compares two or more index runs (oldest first) on the same zones, matched by a zone id. Per zone: score, rank and decile of each period and their change from the first to the last (a positive change always means more need), the hotspot transition between the last two periods from gi_bin (new, persistent, intensifying, diminishing, ended; hot = gi_bin &gt;= 2), and with three or more periods a Mann-Kendall trend and the emerging hot spot category (Esri's rules). The gap per period and area, and its change since the first period, goes to the gaps table (column top_group_of: the period whose top group is used; the log says what the gap is).

A Mann-Kendall trend can only be significant (p &lt; 0.05) with 5 or more periods: with 4 the smallest possible p is 0.089, with 3 it is 0.30. With fewer periods the tool warns, trend says 'not testable' instead of 'no trend', and the output TREND_NOTE says why 'intensifying' and 'diminishing' hot and cold spots cannot occur.

Scores are only comparable when every period was scaled with the same frozen baseline (field ci_baseline); otherwise each year is rescaled on its own, so the tool compares ranks and leaves score_change empty. Periods with different zone ids or grids are refused, naming the ids that differ.

</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/compare_periods.py" line="96"/>
        <source>Index layers, oldest first</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/compare_periods.py" line="98"/>
        <source>Zone id field</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/compare_periods.py" line="100"/>
        <source>Period labels (comma-separated, e.g. 2023,2024)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/compare_periods.py" line="102"/>
        <source>Areas for the gap</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/compare_periods.py" line="105"/>
        <source>Area name field</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/compare_periods.py" line="109"/>
        <source>Change per zone</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/compare_periods.py" line="111"/>
        <source>Gap per period</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/compare_periods.py" line="113"/>
        <source>Whether a trend can be significant with these periods</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/compare_periods.py" line="115"/>
        <source>1 when a Mann-Kendall trend can be significant, else 0</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/compare_periods.py" line="176"/>
        <source>Comparing</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/create_grid.py" line="142"/>
        <source>Create analysis grid</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/create_grid.py" line="145"/>
        <source>Square or hexagon cells covering a study area, on a lattice anchored at a fixed origin (0, 0 unless you give one), so grids made in different years or from different layers line up cell for cell and keep the same cell_id.

SIZE is the cell width in map units: the side of a square, the flat-to-flat width of a hexagon (tick 'size is an area' to give the cell area instead). Each cell has a stable text id (S100_r3_c7, H100_q12_r-4, P100_q12_r-4), its integer indices (row/col or axial q/r) and the grid definition (grid_shape, grid_size, grid_x0, grid_y0), so 'Aggregate victims, offenders and locations' can count points into the cells by arithmetic. grid_clipped is 1 for cells cut by the study area boundary (KEEP = clip).

The CRS must be projected (metres or feet): a geographic study area is refused unless you name a target CRS (for Great Britain, EPSG:27700). Grids above MAX_CELLS cells are refused before any cell is made, with the count, the memory and time they would take and a cell size that would fit.

Cells with data: give point layers (victims, offenders, locations, any number) in 'Only cells holding points of these layers' to make only the cells that hold at least one of their points, plus DATA_NEIGHBOURS rings of neighbours around them (1 by default, so hotspot statistics see each cell's neighbours; 0 for none). A national grid at 100 m then has a few million cells instead of tens of millions. Cells are made and written in chunks of rows, so memory grows with the cells kept, not the extent.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/create_grid.py" line="168"/>
        <source>Study area</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/create_grid.py" line="170"/>
        <source>Cell shape</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/create_grid.py" line="173"/>
        <source>Cell size (width in map units, or area)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/create_grid.py" line="176"/>
        <source>Size is a cell area (square map units)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/create_grid.py" line="179"/>
        <source>Cells to keep</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/create_grid.py" line="181"/>
        <source>Grid origin X (default 0)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/create_grid.py" line="183"/>
        <source>Grid origin Y (default 0)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/create_grid.py" line="188"/>
        <source>Reproject the study area to</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/create_grid.py" line="189"/>
        <source>Largest number of cells</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/create_grid.py" line="195"/>
        <source>Only cells holding points of these layers</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/create_grid.py" line="198"/>
        <source>With cells with data: rings of neighbours kept around them</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/create_grid.py" line="203"/>
        <source>Grid</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/create_grid.py" line="204"/>
        <source>Number of cells</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/create_grid.py" line="205"/>
        <source>Grid definition</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/export_assessment.py" line="172"/>
        <source>Export assessment layout</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/export_assessment.py" line="175"/>
        <source>Prints the assessment: a PDF with a city overview page, a page on the gap over time when periods were compared, and then one page per area (atlas), each with the index map (index and hotspot zones, the area outline and its neighbours), legend, scale bar, north arrow, a table of the area's top priorities (score, rank among the areas, difference from the whole area; themes and issues sorted by need), a chart of theme scores, the incidents recorded in the area by issue and role, its change since the first period, the date, data attributions and a methodology note written from the recipe. Every difference from the whole area compares like with like: the area's value and the whole area's are both population-weighted (or both not, when the summary is not). Optionally a PNG per page, and the layouts saved in a project (.qgz) for editing in the layout designer.
AREAS is the summary layer of 'Summarise by area'. PERIOD_CHANGE and PERIOD_GAPS are the outputs of 'Compare periods': with them the PDF gains the gap-over-time page (the gap per period as a table and chart, the change map with classes centred on 0, and the Mann-Kendall trends only where they can be significant, else why not) and each area page its change. Without a name field the first text field is used. Areas without zones get a 'no data' page.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/export_assessment.py" line="215"/>
        <source>Index zones (output of Build index)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/export_assessment.py" line="217"/>
        <source>Hotspot zones</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/export_assessment.py" line="220"/>
        <source>Area summaries (output of Summarise areas)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/export_assessment.py" line="223"/>
        <source>Area name field (default: the first text field)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/export_assessment.py" line="226"/>
        <source>Change per zone (output of Compare periods)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/export_assessment.py" line="229"/>
        <source>Gap per period (output of Compare periods)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/export_assessment.py" line="232"/>
        <source>Title</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/export_assessment.py" line="234"/>
        <source>Methodology note (default: written from the recipe)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/export_assessment.py" line="237"/>
        <source>Recipe (to write the methodology note)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/export_assessment.py" line="239"/>
        <source>Assessment PDF</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/export_assessment.py" line="241"/>
        <source>Folder for a PNG per page</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/export_assessment.py" line="243"/>
        <source>Save the layouts into a project</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/export_assessment.py" line="245"/>
        <source>Pages</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/hotspot_zones.py" line="41"/>
        <source>Hotspot zones (dissolve hot cells)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/hotspot_zones.py" line="42"/>
        <source>Hotspots</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/hotspot_zones.py" line="44"/>
        <source>Turns the output of 'Hotspot analysis' into hotspot zones: cells whose gi_bin is at least MIN_BIN (default 2: hot at 95 % confidence or more) and that touch (queen contiguity: a shared edge or corner; by cell indices for our grids) are dissolved into one polygon each. Fields: zone_id, area (in the layer's units squared; ellipsoidal square metres for a layer in degrees), n_cells, the sum of every field chosen in SUM_FIELDS and of 'population' when the layer has it. The zones can be used as custom zones for aggregation and the index.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/hotspot_zones.py" line="55"/>
        <source>Hotspots (output of Hotspot analysis)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/hotspot_zones.py" line="57"/>
        <source>Lowest gi_bin counted as hot (1 = 90 %, 2 = 95 %, 3 = 99 %)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/hotspot_zones.py" line="61"/>
        <source>Fields to sum inside each zone (counts)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/hotspot_zones.py" line="65"/>
        <source>Number of hotspot zones</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/hotspots.py" line="55"/>
        <source>Global Moran's I</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/hotspots.py" line="56"/>
        <source>Global Moran's I z-score (normality)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/hotspots.py" line="57"/>
        <source>Global Moran's I p-value (two-sided, normality)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/hotspots.py" line="59"/>
        <source>General G</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/hotspots.py" line="60"/>
        <source>General G z-score</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/hotspots.py" line="61"/>
        <source>General G p-value (two-sided)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/hotspots.py" line="62"/>
        <source>Distance band used (0 for contiguity / k nearest)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/hotspots.py" line="64"/>
        <source>Zones without neighbours</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/hotspots.py" line="65"/>
        <source>Zones without a value (excluded)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/hotspots.py" line="108"/>
        <source>Hotspot analysis (Gi* and local Moran's I)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/hotspots.py" line="111"/>
        <source>Finds where a value is concentrated: Getis-Ord Gi* (binary weights, each zone in its own neighbourhood) and local Moran's I (row-standardised weights), on a numeric field of a grid, any polygon layer or weighted points. Needs nothing beyond QGIS.

Neighbourhood: queen or rook contiguity (by cell indices for grids made by 'Create analysis grid', by shared vertices / edges for other polygons), a fixed distance band (0 = the smallest band that gives every zone a neighbour, as ArcGIS does), the k nearest neighbours, or automatic (global Moran's I over increasing bands; the first peak of its z-score, as ArcGIS Optimized Hot Spot Analysis). Distances are between zone centroids (points: their own location) in the layer's units; a layer in degrees is reprojected to a metric CRS for the distances (and DISTANCE is then in metres).

Significance: analytic (normal, two-sided) p-values, or with PERMUTATIONS &gt; 0 two-sided conditional permutation pseudo p-values (simulated values equal to the observed one count as extreme, so sparse counts do not give false cold spots; repeatable with SEED). Either way gi_bin 1/2/3 means p below 0.10/0.05/0.01. FDR (on by default) applies Benjamini-Hochberg to the bins and clusters (the z and p fields themselves are not adjusted). With P permutations the smallest p is 2 / (P + 1): when that, with FDR over the zones, cannot reach a confidence level, a warning says so before the run, with the number of permutations needed.

Output fields: gi_z, gi_p, gi_bin (-3..3: cold/hot spot at 99/95/90 % confidence), n_neighbours, lisa_i, lisa_p, lisa_cluster (High-High, Low-Low, High-Low, Low-High, Not significant). Global Moran's I and General G are in the log and the outputs. Zones without a value are left out and counted; zones without neighbours are reported and get empty results, not zeros. Fewer than 30 zones gives a warning; a field that does not vary is refused; a band giving more than 1,000 neighbours is refused with a band that fits.

Keep the input's fields (advanced, on by default): off, the output holds only the zone's id (cell_id, or the first text field), the grid's own fields, the population (which 'Hotspot zones' sums), the value analysed and the results, joined back to the input by that id: much less to write for a large grid.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/hotspots.py" line="143"/>
        <source>Zones or points</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/hotspots.py" line="146"/>
        <source>Value (count, rate, score or point weight)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/hotspots.py" line="149"/>
        <source>Neighbourhood</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/hotspots.py" line="153"/>
        <source>Distance band (0 = smallest that gives every zone a neighbour)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/hotspots.py" line="156"/>
        <source>Number of nearest neighbours</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/hotspots.py" line="160"/>
        <source>Permutations (0 = analytic p-values only)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/hotspots.py" line="163"/>
        <source>Random seed for permutations</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/hotspots.py" line="169"/>
        <source>False discovery rate correction (Benjamini-Hochberg)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/hotspots.py" line="172"/>
        <source>Keep the input's fields (off: zone id, grid fields, population and the value analysed only)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/hotspots.py" line="180"/>
        <source>Neighbourhood used</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/import_incidents.py" line="377"/>
        <source>Import and cleanse incidents</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/import_incidents.py" line="378"/>
        <source>Data preparation</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/import_incidents.py" line="380"/>
        <source>Turns incident tables from police, council, fire, health or probation into a clean point layer, and proves nothing was lost: every input row is either in CLEAN or in REJECTED with a reason code (no_coordinates, postcode_not_found, bad_coordinates, swapped_latlon, outside_crs_area, bad_date, outside_date_window, unmapped_category, outside_study_area, duplicate). The HTML report states rows in = clean + rejected and counts per reason, month, category and source.

ARCHIVE: a police.uk download in one go: the .zip from data.police.uk or the folder it was unpacked into, holding monthly folders of yyyy-mm-&lt;force&gt;-street.csv files (any number of months and forces; outcomes and stop-and-search files are left out and counted). MONTHS picks the first and last month (e.g. 2018-01,2018-12; empty: all), FORCES the forces by their file-name spelling (e.g. west-yorkshire; empty: all). The police.uk preset is used. Every row gets a period field from its file's month (PERIOD: month, calendar year or April-March financial year); rows in = clean + rejected holds for the whole set and is reported per file, in the log and the report.

INPUT: one or more CSV/text files (encoding and delimiter detected: UTF-8 with or without BOM, Windows-1252; comma, semicolon, tab, pipe) or table/point layers, e.g. one file per month. It is a multiple-layer input: in the dialog tick project layers or add files with the '...' button; in qgis_process repeat --INPUT=file.csv; from Python pass a list of paths and/or layers. Text files are read as text (never guessed types), so no value is lost. Location from X_FIELD/Y_FIELD in SOURCE_CRS (empty: guessed from the column names x/easting/longitude... and the values), from POSTCODE_FIELD joined to POSTCODE_LOOKUP (a CSV with postcode and x/easting and y/northing columns in SOURCE_CRS), or from the layer geometry. Coordinates may use decimal commas or thousands separators.

PRESET police.uk: checks the 12-column street-level layout and fills the settings left empty: Longitude/Latitude in EPSG:4326, Month (yyyy-mm), Crime type mapped with resources/presets/policeuk_crime_types.csv, duplicates on Crime ID (anti-social behaviour rows without a Crime ID are never duplicates).

DATE_FORMATS: formats separated by ';', strptime codes (%d/%m/%Y) or dd/mm/yyyy style; empty = ISO, dd/mm/yyyy, yyyy-mm and others recognised. DATE_FROM/DATE_TO: yyyy-mm-dd, yyyy-mm or yyyy, inclusive. CATEGORY_MAPPING: CSV category,issue; without it the issue is the category in lowercase_with_underscores. DUPLICATE_FIELDS: field names separated by ','. FIX_SWAPPED: points that fit the CRS area only with X and Y swapped are fixed and kept (field fixes) instead of rejected.

CLEAN keeps every original field (as text) plus source_row (record number after the header), source_file, issue, event_date, fixes and period (when months are known: from the archive, else from the date field); an input field with one of these names is renamed name_orig. REJECTED keeps every original field plus source_row, source_file, reject_reason, reject_detail and period.

STUDY_AREA and STUDY_BUFFER: rows outside the study area are rejected (outside_study_area). The default buffer of 50 m keeps points snapped just outside generalised boundaries: police.uk moves each crime to an anonymised map point coded against full-resolution boundaries, and generalised boundaries move edges by tens of metres (on West Yorkshire, points falling outside their own super-generalised LSOA lie a median 34 m from it). Rows kept thanks to the buffer are counted in the log and marked in_study_buffer in the field fixes. Set 0 for the exact boundary.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/import_incidents.py" line="431"/>
        <source>Incident files (CSV/text) or layers</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/import_incidents.py" line="434"/>
        <source>police.uk archive (.zip, or the folder it was unpacked into)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/import_incidents.py" line="438"/>
        <source>Archive months: first,last (yyyy-mm,yyyy-mm; empty: all)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/import_incidents.py" line="441"/>
        <source>Archive forces (','-separated, e.g. west-yorkshire; empty: all)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/import_incidents.py" line="444"/>
        <source>Period field</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/import_incidents.py" line="448"/>
        <source>Preset</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/import_incidents.py" line="450"/>
        <source>X / easting / longitude field (empty: guess)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/import_incidents.py" line="451"/>
        <source>Y / northing / latitude field (empty: guess)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/import_incidents.py" line="454"/>
        <source>CRS of the X/Y (or postcode lookup) coordinates (empty: guess)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/import_incidents.py" line="457"/>
        <source>Output CRS (projected)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/import_incidents.py" line="460"/>
        <source>Date field</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/import_incidents.py" line="462"/>
        <source>Date formats (';'-separated; empty: recognise)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/import_incidents.py" line="465"/>
        <source>Keep dates from (yyyy-mm-dd)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/import_incidents.py" line="467"/>
        <source>Keep dates up to (yyyy-mm-dd, inclusive)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/import_incidents.py" line="469"/>
        <source>Category field</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/import_incidents.py" line="471"/>
        <source>Category to issue mapping (CSV category,issue)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/import_incidents.py" line="474"/>
        <source>Reject categories missing from the mapping</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/import_incidents.py" line="480"/>
        <source>Study area buffer (output CRS units; default 50 m)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/import_incidents.py" line="483"/>
        <source>Duplicate key fields (','-separated)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/import_incidents.py" line="485"/>
        <source>Fix swapped X/Y (lat/lon) instead of rejecting</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/import_incidents.py" line="488"/>
        <source>Postcode field (instead of X/Y)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/import_incidents.py" line="490"/>
        <source>Postcode lookup (CSV postcode,x,y in the source CRS)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/import_incidents.py" line="493"/>
        <source>Encoding (empty: detect)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/import_incidents.py" line="495"/>
        <source>Delimiter</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/import_incidents.py" line="499"/>
        <source>Decimal separator in coordinates</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/import_incidents.py" line="508"/>
        <source>Clean incidents</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/import_incidents.py" line="510"/>
        <source>Rejected rows</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/import_incidents.py" line="512"/>
        <source>Data-quality report</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/import_incidents.py" line="512"/>
        <source>HTML files (*.html)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/import_incidents.py" line="514"/>
        <source>Clean rows</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/import_incidents.py" line="514"/>
        <source>Rows in</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/import_incidents.py" line="527"/>
        <source>The police.uk archive '{archive}' does not exist: give the .zip file or the folder it was unpacked into.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/import_incidents.py" line="531"/>
        <source>Give at least one incident file or layer (INPUT), or a police.uk archive (ARCHIVE).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/import_incidents.py" line="538"/>
        <source>INPUT '{value}' is neither an existing file nor a layer.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/import_incidents.py" line="544"/>
        <source>Incorrect parameter value for {name}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/make_sample.py" line="20"/>
        <source>Generate synthetic Birmingham sample</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/make_sample.py" line="21"/>
        <source>Sample data</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/make_sample.py" line="23"/>
        <source>Writes SYNTHETIC victims, offenders and incident locations for 8 issues in 3 themes over Birmingham's real LSOAs (Census 2021 population, IMD 2025 crime domain), with planted hotspots that cross ward and constituency boundaries, for each year asked. Per year: synthetic_&lt;year&gt;.gpkg (layers synthetic_locations, synthetic_victims, synthetic_offenders) and agency_csv/ with the files three agencies would send (police lon/lat, council eastings/northings, probation postcodes + lookup), each with a few dirty rows. Not real crime data.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/make_sample.py" line="34"/>
        <source>Size</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/make_sample.py" line="37"/>
        <source>Random seed</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/make_sample.py" line="39"/>
        <source>Years (comma separated)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/make_sample.py" line="41"/>
        <source>Output folder</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/make_sample.py" line="42"/>
        <source>What was written</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/new_recipe.py" line="133"/>
        <source>New recipe from police.uk data</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/new_recipe.py" line="136"/>
        <source>A quick start: writes a complete recipe for 'Run assessment from recipe' from a police.uk download, so that the analyst edits a recipe rather than writing one.

ARCHIVE: the .zip from data.police.uk (street-level crime) or the folder it was unpacked into; MONTHS picks the first and last month (e.g. 2018-01,2018-12; empty: all), FORCES the forces (empty: all). The recipe's period is those months ('2018', '2018/19', '2018-07' or '2016-07 to 2017-07'), and the import reads the months of the period.

The study area: STUDY_AREA, or, without it, the small areas (BOUNDARIES, e.g. LSOAs) of the districts holding the crimes - police.uk names each crime's LSOA ('Leeds 001A'), the district is the name without its number, and districts with at least 1 % of the crimes are kept (a force's file holds a few crimes of its neighbours). The recipe's study area gets a 50 m buffer, so crimes police.uk snapped just outside generalised boundaries are kept and counted.

Admin areas (for the summaries and the atlas): ADMIN_AREAS with its name field, or the small areas dissolved by ADMIN_FIELD (small-area names such as 'Leeds 001A' give 'Leeds'); by default the districts of the small areas' names. Population: a table of counts by area code (POPULATION_TABLE, e.g. a census CSV), joined to the small areas (codes and the count column guessed unless named).

Issues and themes: each police.uk crime type found in the months becomes an issue, counted where it happens on a GRID_SIZE grid, all in one pass: neighbourhood crime (burglary, robbery, vehicle crime, theft from the person), violence and vulnerability (violence and sexual offences, possession of weapons, drugs), other acquisitive crime (shoplifting, bicycle theft, other theft), anti-social behaviour and disorder (anti-social behaviour unless left out, criminal damage and arson, public order, other crime). PREVIOUS (an earlier period's results.gpkg) adds a comparison.

Writes the recipe (OUTPUT) and &lt;recipe name&gt;_areas.gpkg next to it; paths in the recipe are relative to it.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/new_recipe.py" line="170"/>
        <source>Months: first,last (yyyy-mm,yyyy-mm; empty: all)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/new_recipe.py" line="172"/>
        <source>Forces (','-separated, e.g. west-yorkshire; empty: all)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/new_recipe.py" line="175"/>
        <source>Study area (empty: the small areas of the districts holding the crimes)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/new_recipe.py" line="179"/>
        <source>Small areas, e.g. LSOAs (for the study area, the districts and population)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/new_recipe.py" line="183"/>
        <source>Small areas: code field (empty: guessed from the crimes)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/new_recipe.py" line="186"/>
        <source>Small areas: name field (empty: guessed from the crimes)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/new_recipe.py" line="189"/>
        <source>Grid cell size (metres)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/new_recipe.py" line="196"/>
        <source>Admin areas (empty: dissolved from the small areas)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/new_recipe.py" line="199"/>
        <source>Admin areas: name field</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/new_recipe.py" line="202"/>
        <source>Or admin areas dissolved from this field of the small areas (empty: districts from their names)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/new_recipe.py" line="206"/>
        <source>Population: table of counts by area code (CSV)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/new_recipe.py" line="209"/>
        <source>Population table: code column (empty: guessed)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/new_recipe.py" line="212"/>
        <source>Population table: count column (empty: guessed)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/new_recipe.py" line="215"/>
        <source>Count anti-social behaviour (an issue of the ASB and disorder theme)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/new_recipe.py" line="218"/>
        <source>Compare with an earlier period: its results.gpkg</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/new_recipe.py" line="221"/>
        <source>The earlier period's label</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/new_recipe.py" line="223"/>
        <source>Analysis CRS (projected, metres)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/new_recipe.py" line="225"/>
        <source>Recipe</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/new_recipe.py" line="226"/>
        <source>Areas GeoPackage</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/new_recipe.py" line="227"/>
        <source>Issues</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/new_recipe.py" line="228"/>
        <source>Period</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/run_recipe.py" line="22"/>
        <source>Run assessment from recipe</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/run_recipe.py" line="25"/>
        <source>Runs a whole Composite Index assessment described by a recipe (a JSON file, see the user guide): import and cleansing, the analysis grid or zones, population, aggregation of victims, offenders and locations, the composite index, hotspots, area summaries, comparison with earlier periods, sensitivity and the printed assessment. Each stage is one of this provider's algorithms, run in order. Writes one GeoPackage of results, a QGIS project (.qgz) with styled layers, a PNG of the main map and a run log into the output folder.

The recipe is checked first (structure, files, layers and fields); every problem is listed at once, with where it is and how to fix it, before any work starts.

Safety: a recipe may come from someone else. It reads and writes only inside its own folder and the output folder - plus the folders you list in 'Also allow these folders' (ALLOWED_FOLDERS, separated by ;) - and its filters may use only QGIS functions that work on the feature itself. The run writes into a hidden folder beside the output folder and moves its files in only when it has finished: a failed or cancelled run leaves the previous results as they were.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/run_recipe.py" line="55"/>
        <source>Recipe (JSON)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/run_recipe.py" line="57"/>
        <source>Output folder (default: the recipe's output.folder)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/run_recipe.py" line="60"/>
        <source>Also allow these folders (separated by ;): the recipe may read and write there too</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/run_recipe.py" line="65"/>
        <source>Results GeoPackage</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/run_recipe.py" line="66"/>
        <source>QGIS project</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/run_recipe.py" line="67"/>
        <source>Run log</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/run_recipe.py" line="69"/>
        <source>Stages skipped</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/sensitivity.py" line="194"/>
        <source>Uncertainty and sensitivity</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/sensitivity.py" line="197"/>
        <source>Monte Carlo over the analyst's choices: each run rebuilds the index with weights drawn from a Dirichlet distribution centred on the chosen ones (a higher CONCENTRATION keeps them closer; 0 keeps them as they are) and, when SCALINGS are listed, one scaling drawn from that list for every indicator. Runs are seeded: the same SEED gives the same result.

Per zone: base_rank, median_rank, rank_p05 and rank_p95 (the 5-95 % range of its rank over the runs), p_top_decile (share of runs in which it is in the top decile) and robust_priority (1 when p_top_decile &gt;= 0.8). Per area (optional) the same for the area ranks (population-weighted mean score).

GRID_JITTER varies the grid offset (up to one cell) and the cell size (+-25 %) on square or hexagon (flat-top or pointy-top) grids made by Create grid, moving the zones' counts onto each jittered grid of the same shape by areal weighting (counts are assumed spread evenly within a cell; on hexagons the overlaps are estimated from about 50 sample points per cell, within a few per cent); each cell then takes the score of the jittered cell that holds its centre. With neighbours in the spec, the jittered grid uses queen or rook contiguity (squares) or its six hexagon neighbours.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/sensitivity.py" line="229"/>
        <source>Zones with the indicator fields</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/sensitivity.py" line="232"/>
        <source>Index spec (JSON text or path to a .json file)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/sensitivity.py" line="234"/>
        <source>Number of runs</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/sensitivity.py" line="241"/>
        <source>Weight concentration (0 = keep the weights)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/sensitivity.py" line="245"/>
        <source>Scalings to draw from (e.g. zscore, minmax, rank)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/sensitivity.py" line="246"/>
        <source>Scaling</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/sensitivity.py" line="248"/>
        <source>Vary grid offset and cell size (square or hexagon grids)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/sensitivity.py" line="251"/>
        <source>Areas</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/sensitivity.py" line="256"/>
        <source>Rank uncertainty per zone</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/sensitivity.py" line="258"/>
        <source>Rank uncertainty per area</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/sensitivity.py" line="321"/>
        <source>Running {runs} index variants</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/summarise_areas.py" line="67"/>
        <source>Summarise by area</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/summarise_areas.py" line="70"/>
        <source>Summarises index zones by larger areas (constituencies, wards): population-weighted mean score, share of the population and of the zones in the study area's top decile, the IMD-style extent (population-weighted share in the most affected percentiles: weight 1 for percentiles 1-10, falling from 0.95 at 11 to 0.05 at 30), hotspot area and share, the three themes and issues with the highest mean scores (weighted as the score), the gap between the highest-need zones and the rest, and the area's rank (1 = highest need). A zone split by area boundaries counts in each area by the share of its surface inside it (its population shared out in the same proportion). The table has one more row for the whole study area. Each area's issue values (&lt;issue&gt;_mean) are weighted as its score, and the incident counts (&lt;issue&gt;_&lt;role&gt;) are summed, a split zone counting by its share. Zones made by 'Create grid' are overlaid with the areas by grid arithmetic (exact, the time growing with cells + area vertices); OVERLAY 'GEOS intersection of every zone' measures every zone with GEOS instead.

</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/summarise_areas.py" line="99"/>
        <source>Index zones</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/summarise_areas.py" line="101"/>
        <source>Areas to summarise by</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/summarise_areas.py" line="106"/>
        <source>Population field (default: population, when present)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/summarise_areas.py" line="110"/>
        <source>Score field</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/summarise_areas.py" line="114"/>
        <source>Hotspot zones (polygons)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/summarise_areas.py" line="124"/>
        <source>Area summary</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/summarise_areas.py" line="126"/>
        <source>Area summary table</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/summarise_areas.py" line="170"/>
        <source>Measuring zone and area overlaps</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/algorithms/summarise_areas.py" line="215"/>
        <source>Summarising</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/gap_options.py" line="22"/>
        <source>The gap: the mean score of the highest-need zones (the top group: by default those holding 10 % of the residents) minus that of all other zones. GAP_WEIGHTING: the top group holds that share of the residents and means are population-weighted (population share), or of the zones, each weighing the same (zone share). GAP_MODE over periods: fixed cohort (the first period's top group followed over time: a change is a change of the same places), re-selected (each period's own top group: a change mixes real change with zones moving in and out of the group and regression to the mean), or worst against average (the first period's top group against the mean of the whole area, the floor-target form). Within one period the first two are the same. The ratio of the means is only given when no score is below zero. GAP (advanced): the recipe's gap section as JSON, {"by": "decile" or "percent", "value": 1, "weighting": "population" or "zones", "mode": "cohort", "reselected" or "worst_vs_average"}; when given it replaces the three options.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/gap_options.py" line="42"/>
        <source>Gap: top group, percent of the residents (or zones)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/gap_options.py" line="45"/>
        <source>Gap: top group by</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/gap_options.py" line="49"/>
        <source>Gap over periods</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../composite_index_plugin/processing/gap_options.py" line="52"/>
        <source>Gap definition as JSON (replaces the options above)</source>
        <translation type="unfinished"></translation>
    </message>
</context>
</TS>
