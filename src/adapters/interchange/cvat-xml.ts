/**
 * "CVAT for images 1.1" XML text -> the core CVAT model. Parsing is delegated to fast-xml-parser (maintained, no
 * native code, already in the tree through @azure/core-xml); what the parse means is decided by the core schema.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { InterchangeDocumentError } from '../../core/interchange/import-result';
import { readCvatXmlObject } from '../../core/interchange/cvat-import';
import type { CvatDocument } from '../../core/interchange/cvat-model';

const parser = new XMLParser({
  ignoreAttributes: false,
  // Attributes and child elements share one object: CVAT never gives an element both an attribute and a child of one name.
  attributeNamePrefix: '',
  textNodeName: '#text',
  // Strings stay strings (a file name "1e3.jpg" must not become 1000); the core schema converts numbers.
  parseTagValue: false,
  parseAttributeValue: false,
  // Our writer escapes newlines and tabs as &#10; / &#9;, which only this option decodes.
  htmlEntities: true,
});

/** Parse CVAT XML; a malformed or foreign document is an InterchangeDocumentError naming `source` (and the line). */
export function parseCvatXml(text: string, source = 'CVAT XML'): CvatDocument {
  // CVAT never writes a DOCTYPE; refusing one rules out entity-expansion tricks in uploaded files.
  if (/<!DOCTYPE/i.test(text)) throw new InterchangeDocumentError(source, 'XML with a DOCTYPE is not accepted');
  const valid = XMLValidator.validate(text);
  if (valid !== true) {
    throw new InterchangeDocumentError(source, `not well-formed XML (line ${valid.err.line}, column ${valid.err.col}): ${valid.err.msg}`);
  }
  return readCvatXmlObject(parser.parse(text), source);
}
