/**
 * The Label Studio labeling config that matches our tasks: the control names here are the from_name/to_name of
 * every result the export writes and the import reads, so they are defined once.
 */
import { ATTRIBUTE_NAMES, ATTRIBUTE_VOCABULARIES } from '../taxonomy/attributes';
import { BDD_CLASSES } from '../taxonomy/categories';
import { escapeXml } from './xml-text';

/** <Image name>, and the task data key its value="$image" reads. */
export const LS_IMAGE_NAME = 'image';
/** <RectangleLabels name>: from_name of every box result. */
export const LS_BOX_CONTROL = 'label';
// Choices controls are named after the attribute (weather, timeofday, scene): from_name = attribute name.

/** The labeling config XML: every BDD class as a rectangle label, every attribute value as a single choice. */
export function labelStudioConfigXml(): string {
  const lines = ['<View>', `  <Image name="${LS_IMAGE_NAME}" value="$${LS_IMAGE_NAME}"/>`];
  lines.push(`  <RectangleLabels name="${LS_BOX_CONTROL}" toName="${LS_IMAGE_NAME}">`);
  for (const category of BDD_CLASSES) lines.push(`    <Label value="${escapeXml(category)}"/>`);
  lines.push('  </RectangleLabels>');
  for (const attribute of ATTRIBUTE_NAMES) {
    lines.push(`  <Header value="${escapeXml(attribute)}"/>`);
    lines.push(`  <Choices name="${escapeXml(attribute)}" toName="${LS_IMAGE_NAME}" choice="single" showInline="true">`);
    for (const value of ATTRIBUTE_VOCABULARIES[attribute]) lines.push(`    <Choice value="${escapeXml(value)}"/>`);
    lines.push('  </Choices>');
  }
  lines.push('</View>');
  return lines.join('\n') + '\n';
}
